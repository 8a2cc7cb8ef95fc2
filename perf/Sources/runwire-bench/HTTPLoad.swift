import CShimSys
import Reactor
#if canImport(Glibc)
import Glibc
#endif

/// `http`: C keep-alive connections, each with one GET in flight, for S seconds: requests/s
/// and latency of a plain GET (e.g. `/health`).
final class HTTPScenario {
    final class Conn: Socket {
        unowned let owner: HTTPScenario
        var sentAt = 0.0
        init(fd: Int32, loop: EventLoop, owner: HTTPScenario) {
            self.owner = owner
            super.init(fd: fd, loop: loop)
        }
        func send() {
            sentAt = wallNow()
            output.append(string: owner.request)
            markForFlush()
        }
        override func received(_ bytes: UnsafeMutableRawBufferPointer) -> Int {
            var at = 0
            while let (used, success, _) = ResponseFraming.next(UnsafeRawBufferPointer(rebasing: bytes[at...])) {
                owner.completed(self, ok: success)
                at += used
            }
            return at
        }
        override func didClose() { owner.closed += 1 }
    }

    let loop = EventLoop(sweepInterval: 0.05)
    let request: String
    let host: String, port: Int, conns: Int, duration: Double
    var histogram = Histogram()
    var ok = 0, failed = 0, closed = 0
    var start = 0.0, end = 0.0

    init(host: String, port: Int, path: String, conns: Int, duration: Double) {
        self.host = host
        self.port = port
        self.conns = conns
        self.duration = duration
        request = "GET \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\n\r\n"
    }

    func completed(_ c: Conn, ok good: Bool) {
        let now = wallNow()
        if good { ok += 1 } else { failed += 1 }
        histogram.record(UInt64(max(0, (now - c.sentAt) * 1e6)))
        if now < end { c.send() }
    }

    func run() -> [String: String] {
        start = wallNow()
        end = start + duration
        for _ in 0..<conns {
            let fd = CShim_tcp_connect(host, Int32(port), nil)
            guard fd >= 0 else { failed += 1; continue }
            let c = Conn(fd: fd, loop: loop, owner: self)
            c.start()
            c.send()
        }
        loop.onSweep = { [unowned self] _ in
            if wallNow() >= self.end + 1 {
                self.loop.forEachSocket { $0.close() }
                self.loop.stop()
            }
        }
        loop.run()
        return [
            "connections": "\(conns)", "requests": "\(ok)", "errors": "\(failed)", "closedEarly": "\(closed - conns)",
            "requestsPerSecond": "\(Int(Double(ok) / duration))",
            "p50us": "\(histogram.percentile(0.5))", "p99us": "\(histogram.percentile(0.99))", "maxus": "\(histogram.max)",
        ]
    }
}
