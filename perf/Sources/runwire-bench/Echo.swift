import CShimSys
import Reactor

/// `echo`: N connections each keep one message in flight on the echo endpoint for a fixed
/// time; reports round trips per second and their latency.
final class EchoScenario: ClientDelegate {
    let loop = EventLoop(sweepInterval: 0.05)
    let url: WSURL
    let conns: Int
    let duration: Double
    let payload: [UInt8]
    var opened = 0, failed = 0, closedEarly = 0
    var histogram = Histogram()
    var startTime = 0.0, endTime = 0.0
    var messages = 0
    var running = false

    init(url: WSURL, conns: Int, duration: Double, size: Int) {
        self.url = url
        self.conns = conns
        self.duration = duration
        payload = (0..<size).map { UInt8(97 + $0 % 26) }
    }

    func run() -> [String: String] {
        for i in 0..<conns {
            let fd = CShim_tcp_connect(url.host, Int32(url.port), nil)
            guard fd >= 0 else { failed += 1; continue }
            ClientSocket(fd: fd, loop: loop, delegate: self, host: "\(url.host):\(url.port)", path: url.path(run: i)).begin()
        }
        let giveUp = wallNow() + 30
        loop.onSweep = { [unowned self] _ in
            let now = wallNow()
            if !self.running && (self.opened + self.failed >= self.conns || now > giveUp) { self.begin(now) }
            if self.running && now >= self.endTime {
                self.running = false
                self.loop.forEachSocket { $0.close() }
                self.loop.stop()
            }
        }
        loop.run()
        let secs = duration
        return [
            "connections": "\(opened)", "failed": "\(failed)", "messages": "\(messages)",
            "messagesPerSecond": "\(Int(Double(messages) / secs))",
            "p50us": "\(histogram.percentile(0.5))", "p99us": "\(histogram.percentile(0.99))",
            "p999us": "\(histogram.percentile(0.999))", "maxus": "\(histogram.max)",
        ]
    }

    private func begin(_ now: Double) {
        running = true
        startTime = now
        endTime = now + duration
        loop.forEachSocket { s in
            if let c = s as? ClientSocket { self.send(c, now) }
        }
    }

    private func send(_ c: ClientSocket, _ now: Double) {
        c.stamp = now
        payload.withUnsafeBytes { c.sendFrame(.text, $0) }
    }

    func opened(_ c: ClientSocket) { opened += 1 }

    func message(_ c: ClientSocket, _ payload: UnsafeRawBufferPointer) {
        guard running else { return }
        let now = wallNow()
        messages += 1
        histogram.record(UInt64(max(0, (now - c.stamp) * 1e6)))
        if now < endTime { send(c, now) }
    }

    func closed(_ c: ClientSocket, handshakeDone: Bool) {
        if !handshakeDone { failed += 1 } else if running { closedEarly += 1 }
    }
}
