import Artifacts
import Reactor
#if canImport(Glibc)
import Glibc
#endif

/// Formats times for JSON (`2025-11-21T14:49:52.479Z`) and HTTP `Date` headers
/// (`Sun, 06 Nov 1994 08:49:37 GMT`, RFC 9110 §5.6.7) without Foundation or allocation.
/// The civil-time part is cached per second, so a request pays for a few digit stores.
public struct Timestamp {
    private var cachedSecond = -1
    /// `YYYY-MM-DDTHH:MM:SS.` (20 bytes) for `cachedSecond`.
    private var iso = (UInt64(0), UInt64(0), UInt32(0))
    /// The 29-byte HTTP date for `cachedSecond`.
    private var http = (UInt64(0), UInt64(0), UInt64(0), UInt32(0), UInt8(0))

    public init() {}

    private mutating func refresh(_ second: Int) {
        guard second != cachedSecond else { return }
        cachedSecond = second
        var t = time_t(second)
        var tm = tm()
        gmtime_r(&t, &tm)
        let days: [StaticString] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months: [StaticString] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        withUnsafeMutableBytes(of: &iso) { b in
            var i = 0
            func put(_ v: Int, _ width: Int) { Timestamp.digits(v, width, b, &i) }
            func ch(_ c: UInt8) { b[i] = c; i += 1 }
            put(Int(tm.tm_year) + 1900, 4); ch(45); put(Int(tm.tm_mon) + 1, 2); ch(45); put(Int(tm.tm_mday), 2)
            ch(84); put(Int(tm.tm_hour), 2); ch(58); put(Int(tm.tm_min), 2); ch(58); put(Int(tm.tm_sec), 2); ch(46)
        }
        withUnsafeMutableBytes(of: &http) { b in
            var i = 0
            func put(_ v: Int, _ width: Int) { Timestamp.digits(v, width, b, &i) }
            func str(_ s: StaticString) {
                for k in 0..<s.utf8CodeUnitCount { b[i] = s.utf8Start[k]; i += 1 }
            }
            str(days[Int(tm.tm_wday)]); str(", "); put(Int(tm.tm_mday), 2); str(" "); str(months[Int(tm.tm_mon)])
            str(" "); put(Int(tm.tm_year) + 1900, 4); str(" "); put(Int(tm.tm_hour), 2); str(":")
            put(Int(tm.tm_min), 2); str(":"); put(Int(tm.tm_sec), 2); str(" GMT")
        }
    }

    /// Writes `v` as exactly `width` decimal digits at `b[i...]` and advances `i`.
    private static func digits(_ v: Int, _ width: Int, _ b: UnsafeMutableRawBufferPointer, _ i: inout Int) {
        var d = width - 1
        var x = v
        while d >= 0 { b[i + d] = UInt8(48 + x % 10); x /= 10; d -= 1 }
        i += width
    }

    /// Appends `time` (seconds since the epoch) as ISO-8601 UTC with milliseconds.
    public mutating func appendISO(_ time: Double, to out: inout ByteBuffer) {
        let ms = Int((time * 1000).rounded(.down))
        refresh(ms / 1000)
        withUnsafeBytes(of: &iso) { out.append(UnsafeRawBufferPointer(rebasing: $0[0..<20])) }
        let frac = ms % 1000
        out.append(byte: UInt8(48 + frac / 100)); out.append(byte: UInt8(48 + frac / 10 % 10))
        out.append(byte: UInt8(48 + frac % 10)); out.append(byte: 90) // "Z"
    }

    /// Appends the HTTP `Date` value for `time`.
    public mutating func appendHTTPDate(_ time: Double, to out: inout ByteBuffer) {
        refresh(Int(time))
        withUnsafeBytes(of: &http) { out.append(UnsafeRawBufferPointer(rebasing: $0[0..<29])) }
    }

    /// ISO-8601 text for logs and cold paths: `ISOTime.format`, the artifact API's formatter
    /// (the same bytes as `appendISO` for every time from 1970 to 9999).
    public static func iso(_ time: Double) -> String { ISOTime.format(time) }

    /// Wall clock now, seconds since the epoch (`ISOTime.now`).
    public static func now() -> Double { ISOTime.now() }
}
