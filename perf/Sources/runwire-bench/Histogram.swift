/// A log-linear latency histogram (HdrHistogram's idea, 1/32 relative precision): values in
/// microseconds fall into 32 linear sub-buckets per power of two. Fixed memory, no allocation
/// per record.
struct Histogram {
    private static let subBits = 5
    private var counts = [UInt64](repeating: 0, count: 64 << 5)
    private(set) var total: UInt64 = 0
    private(set) var max: UInt64 = 0

    static func index(_ v: UInt64) -> Int {
        if v < (1 << subBits) { return Int(v) }
        let top = 63 - v.leadingZeroBitCount
        let shift = top - subBits
        return ((shift + 1) << subBits) + Int((v >> UInt64(shift)) & ((1 << UInt64(subBits)) - 1))
    }

    /// The smallest value that maps to `i` (the bucket's lower bound).
    static func lowest(_ i: Int) -> UInt64 {
        if i < (1 << subBits) { return UInt64(i) }
        let shift = (i >> subBits) - 1
        let sub = UInt64(i & ((1 << subBits) - 1)) | (1 << UInt64(subBits))
        return sub << UInt64(shift)
    }

    mutating func record(_ micros: UInt64) {
        counts[Self.index(micros)] += 1
        total += 1
        if micros > max { max = micros }
    }

    mutating func merge(_ other: Histogram) {
        for i in counts.indices { counts[i] += other.counts[i] }
        total += other.total
        max = Swift.max(max, other.max)
    }

    /// The non-empty buckets as `index:count` pairs joined by commas: what a worker process
    /// sends so its parent can merge histograms exactly (percentiles cannot be averaged).
    var encodedBuckets: String {
        counts.indices.lazy.filter { self.counts[$0] > 0 }.map { "\($0):\(self.counts[$0])" }.joined(separator: ",")
    }

    /// The value at quantile `q` (0...1), in microseconds: the top of the bucket holding it
    /// (capped at the largest value recorded), so a percentile is never under-reported.
    func percentile(_ q: Double) -> UInt64 {
        guard total > 0 else { return 0 }
        let rank = UInt64((q * Double(total)).rounded(.up))
        var seen: UInt64 = 0
        for (i, c) in counts.enumerated() where c > 0 {
            seen += c
            if seen >= Swift.max(rank, 1) { return Swift.min(Self.lowest(i + 1) - 1, max) }
        }
        return max
    }
}

extension Histogram {
    /// A histogram from `encodedBuckets` and the largest value recorded; nil for malformed text.
    init?(encodedBuckets text: String, max: UInt64) {
        self.init()
        for pair in text.split(separator: ",") {
            let parts = pair.split(separator: ":")
            guard parts.count == 2, let i = Int(parts[0]), let c = UInt64(parts[1]), counts.indices.contains(i) else { return nil }
            counts[i] += c
            total += c
        }
        self.max = max
    }
}

extension Histogram {
    /// The latency fields of a fan-out or cluster result, in microseconds: `p50us`, `p90us`,
    /// `p99us`, `p999us` and `maxus` (the keys `report` charts).
    var latencyFields: [String: String] {
        ["p50us": "\(percentile(0.5))", "p90us": "\(percentile(0.9))", "p99us": "\(percentile(0.99))",
         "p999us": "\(percentile(0.999))", "maxus": "\(max)"]
    }
}
