import CShimSys
import Reactor
#if canImport(Glibc)
import Glibc
#endif

/// `fanout`: N subscribers over R runs; P keep-alive publishers POST M events/s, each event
/// carrying its send time (`"t"`, µs) and a per-run counter (`"i"`). Every subscriber checks
/// that its run's counter arrives once and in order, and records the latency.
final class FanoutScenario: ClientDelegate {
    struct Options {
        var subscribeURL: WSURL
        var publishHost: String
        var publishPort: Int
        var publishPath: String
        var conns: Int
        var runs: Int
        var rate: Double
        var duration: Double
        var size: Int
        var publishers: Int
        var window: Int
        var sources: [String]
        var publish: Bool
        /// Run names are `<prefix><n>`: a fresh prefix per invocation keeps earlier runs' history out.
        var runPrefix: String
        /// Set in a worker process of `--procs`: wait for the parent's `go` after subscribing,
        /// report publish counts, and add the per-run counts and histogram buckets to the result.
        var worker: WorkerRole? = nil
    }

    enum Phase { case connecting, waiting, publishing, draining, done }

    let loop = EventLoop(sweepInterval: 0.05)
    let o: Options
    var opened = 0, failed = 0, closedEarly = 0
    var subscribersPerRun: [Int]
    var publishedPerRun: [Int]
    var delivered = 0, duplicates = 0, missing = 0
    var histogram = Histogram()
    var pubs: [PublisherSocket] = []
    var started = 0
    var phase = Phase.connecting
    /// A listening worker learns the publisher's per-run counts from its parent.
    var totalsKnown = false
    var link: ParentLink?
    var publishStart = 0.0, publishEnd = 0.0, drainEnd = 0.0, giveUp = 0.0
    var sent = 0
    var timer: RepeatingTimer?
    let pad: String

    init(_ o: Options) {
        self.o = o
        subscribersPerRun = Array(repeating: 0, count: o.runs)
        publishedPerRun = Array(repeating: 0, count: o.runs)
        pad = String(repeating: "x", count: max(0, o.size - 40))
    }

    static func micros() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1000
    }

    func run() -> [String: String] {
        giveUp = wallNow() + 120
        if o.worker != nil { link = ParentLink(loop: loop) { [unowned self] in self.parentSaid($0) } }
        loop.onSweep = { [unowned self] _ in self.tick() }
        loop.run()
        let secs = max(publishEnd - publishStart, 0.001)
        let expected = expectedDeliveries
        let okResponses = pubs.reduce(0) { $0 + $1.ok }, badResponses = pubs.reduce(0) { $0 + $1.failed }
        var result = [
            "subscribers": "\(opened)", "subscribeFailed": "\(failed)", "closedEarly": "\(closedEarly)",
            "runs": "\(o.runs)", "targetRate": "\(Int(o.rate))",
            "published": "\(sent)", "publishRate": "\(Int(Double(sent) / secs))",
            "publishOK": "\(okResponses)", "publishErrors": "\(badResponses)",
            "keptRate": "\(Double(sent) >= 0.95 * o.rate * (publishEnd - publishStart))",
            "expected": "\(o.publish || totalsKnown ? expected : -1)", "delivered": "\(delivered)",
            "duplicates": "\(duplicates)", "missing": "\(missing)",
            "deliveriesPerSecond": "\(Int(Double(delivered) / secs))",
        ].merging(histogram.latencyFields) { $1 }
        if o.worker != nil {
            result["subscribersPerRun"] = subscribersPerRun.map(String.init).joined(separator: ",")
            result["publishedPerRun"] = publishedPerRun.map(String.init).joined(separator: ",")
            result["histogram"] = histogram.encodedBuckets
            result["publishSeconds"] = "\(secs)"
        }
        return result
    }

    var expectedDeliveries: Int {
        var expected = 0
        for r in 0..<o.runs { expected += publishedPerRun[r] * subscribersPerRun[r] }
        return expected
    }

    /// A line from the parent (worker mode): `go` ends the barrier, `published …` gives a
    /// listening worker the publisher's per-run counts, "" (end of file) stops.
    private func parentSaid(_ line: String) {
        let now = wallNow()
        if line == "go" && phase == .waiting {
            begin(now)
        } else if line.hasPrefix("published ") {
            let counts = line.dropFirst(10).split(separator: ",").compactMap { Int($0) }
            guard counts.count == o.runs else { return }
            publishedPerRun = counts
            totalsKnown = true
            if phase == .publishing { phase = .draining; drainEnd = now + 5 }
        } else if line.isEmpty && phase != .done {
            finish()
        }
    }

    private func begin(_ now: Double) {
        if o.publish {
            startPublishing(now)
        } else {
            phase = .publishing
            publishStart = now
            publishEnd = now + o.duration
        }
    }

    private func tick() {
        let now = wallNow()
        switch phase {
        case .connecting:
            var batch = 250
            while batch > 0 && started < o.conns && started - opened - failed < 2000 { openOne(); batch -= 1 }
            if opened + failed >= o.conns || now > giveUp {
                if o.worker != nil {
                    // The barrier: every worker subscribes before any event is published.
                    phase = .waiting
                    ParentLink.tell("ready \(opened) \(failed)")
                } else {
                    begin(now)
                }
            }
        case .waiting:
            if now > giveUp + 60 { finish() } // the parent never said go
        case .publishing where !o.publish:
            if now >= publishEnd { phase = .draining; drainEnd = now + 5 }
        case .draining:
            if ((o.publish || totalsKnown) && delivered + missing >= expectedDeliveries) || now >= drainEnd { finish() }
        default: break
        }
    }

    private func openOne() {
        let source = o.sources.isEmpty ? nil : o.sources[started % o.sources.count]
        let fd = CShim_tcp_connect(o.subscribeURL.host, Int32(o.subscribeURL.port), source)
        let r = started % o.runs
        started += 1
        guard fd >= 0 else { failed += 1; return }
        let c = ClientSocket(fd: fd, loop: loop, delegate: self, host: "\(o.subscribeURL.host):\(o.subscribeURL.port)",
                             path: o.subscribeURL.path.replacingOccurrences(of: "{run}", with: "\(o.runPrefix)\(r)"))
        c.runIndex = r
        c.begin()
    }

    private func startPublishing(_ now: Double) {
        for _ in 0..<o.publishers {
            let fd = CShim_tcp_connect(o.publishHost, Int32(o.publishPort), nil)
            guard fd >= 0 else { continue }
            let p = PublisherSocket(fd: fd, loop: loop, host: "\(o.publishHost):\(o.publishPort)", window: o.window)
            p.start()
            pubs.append(p)
        }
        phase = .publishing
        publishStart = now
        publishEnd = now + o.duration
        timer = RepeatingTimer(loop: loop, interval: 0.001) { [unowned self] in self.publishTick() }
    }

    private func publishTick() {
        let now = wallNow()
        if now >= publishEnd {
            timer?.stop()
            phase = .draining
            drainEnd = now + 5
            if o.worker != nil { ParentLink.tell("published " + publishedPerRun.map(String.init).joined(separator: ",")) }
            return
        }
        let due = Int(o.rate * (now - publishStart)) + 1
        while sent < due && !pubs.isEmpty {
            // A run always goes through the same publisher connection, so its events reach the
            // server in the order of their counter.
            let r = sent % o.runs
            let p = pubs[r % pubs.count]
            guard p.canSend else { break } // the window is full: the server is behind
            let i = publishedPerRun[r]
            publishedPerRun[r] += 1
            p.post(path: o.publishPath.replacingOccurrences(of: "{run}", with: "\(o.runPrefix)\(r)"),
                   body: "{\"t\":\(Self.micros()),\"i\":\(i),\"pad\":\"\(pad)\"}")
            sent += 1
        }
    }

    private func finish() {
        phase = .done
        loop.forEachSocket { $0.close() }
        loop.stop()
    }

    func opened(_ c: ClientSocket) {
        opened += 1
        subscribersPerRun[c.runIndex] += 1
    }

    func message(_ c: ClientSocket, _ payload: UnsafeRawBufferPointer) {
        guard let t = Self.number(after: "\"t\":", in: payload), let i = Self.number(after: "\"i\":", in: payload) else { return }
        delivered += 1
        histogram.record(UInt64(max(0, Self.micros() - t)))
        // Runwire numbers events per run (seq from 1); a peer without seq is checked by the
        // publisher's per-run counter (from 0), which one connection per run keeps in order.
        let n: Int
        if let seq = Self.number(after: "\"seq\":", in: payload) { n = Int(seq) - 1 } else { n = Int(i) }
        if n == c.expect { c.expect += 1 } else if n > c.expect { missing += n - c.expect; c.expect = n + 1 } else { duplicates += 1 }
    }

    func closed(_ c: ClientSocket, handshakeDone: Bool) {
        if !handshakeDone { failed += 1 } else if phase != .done { closedEarly += 1 }
    }

    /// The decimal number following `key` in `bytes` (first occurrence), without allocating.
    static func number(after key: StaticString, in bytes: UnsafeRawBufferPointer) -> Int64? {
        let k = UnsafeRawBufferPointer(start: key.utf8Start, count: key.utf8CodeUnitCount)
        guard bytes.count > k.count else { return nil }
        var i = 0
        outer: while i <= bytes.count - k.count {
            for j in 0..<k.count where bytes[i + j] != k[j] { i += 1; continue outer }
            var v: Int64 = 0
            var p = i + k.count
            var any = false
            while p < bytes.count, bytes[p] >= 48, bytes[p] <= 57 { v = v * 10 + Int64(bytes[p] - 48); p += 1; any = true }
            return any ? v : nil
        }
        return nil
    }
}
