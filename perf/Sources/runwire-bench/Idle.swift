import CShim
import Reactor

/// `idle`: opens and holds N WebSocket connections over R runs, spread over source
/// addresses, and reports the server's resident memory growth per connection.
final class IdleScenario: ClientDelegate {
    let loop = EventLoop(sweepInterval: 0.01)
    let url: WSURL
    let total: Int
    let runs: Int
    let sources: [String]
    let serverPID: Int32?
    let hold: Double
    let deadline: Double
    var started = 0, connected = 0, failed = 0, closedAfterOpen = 0
    var lastReport = 0.0, lastConnected = 0, lastFailed = 0
    let began = wallNow()
    var baselineKiB: Int?
    var finished = false
    var result: [String: String] = [:]

    init(url: WSURL, conns: Int, runs: Int, sources: [String], serverPID: Int32?, hold: Double, timeout: Double) {
        self.url = url
        total = conns
        self.runs = max(1, runs)
        self.sources = sources.isEmpty ? [""] : sources
        self.serverPID = serverPID
        self.hold = hold
        deadline = wallNow() + timeout
    }

    func run() -> [String: String] {
        if let pid = serverPID { baselineKiB = residentKiB(pid: pid) }
        lastReport = wallNow()
        loop.onSweep = { [unowned self] _ in self.tick() }
        loop.run()
        return result
    }

    private func tick() {
        let now = wallNow()
        // Open at most 200 connections per 10 ms tick: the SYN backlog stays shallow.
        var batch = 200
        while batch > 0 && started < total && started - connected - failed < 2000 {
            openOne()
            batch -= 1
        }
        if now - lastReport >= 1 {
            print("t+\(Int(now - began))s connected \(connected) (+\(connected - lastConnected)/s) failed \(failed) (+\(failed - lastFailed)/s)")
            lastReport = now; lastConnected = connected; lastFailed = failed
        }
        if !finished && (connected + failed >= total || now > deadline) {
            finished = true
            measure(holdUntil: now + hold)
        }
    }

    private func openOne() {
        let source = sources[started % sources.count]
        let fd = CShim_tcp_connect(url.host, Int32(url.port), source)
        started += 1
        guard fd >= 0 else { failed += 1; return }
        let c = ClientSocket(fd: fd, loop: loop, delegate: self, host: "\(url.host):\(url.port)", path: url.path(run: started % runs))
        c.begin()
    }

    private func measure(holdUntil: Double) {
        var rss: Int?
        if let pid = serverPID { rss = residentKiB(pid: pid) }
        result["connected"] = "\(connected)"
        result["failed"] = "\(failed)"
        if let rss, let base = baselineKiB {
            result["serverRSSBeforeKiB"] = "\(base)"
            result["serverRSSAfterKiB"] = "\(rss)"
            result["bytesPerConnection"] = connected > 0 ? "\((rss - base) * 1024 / connected)" : "n/a"
        }
        let pending = holdUntil
        loop.onSweep = { [unowned self] _ in
            if wallNow() >= pending {
                self.result["closedDuringHold"] = "\(self.closedAfterOpen)"
                self.loop.forEachSocket { $0.close() }
                self.loop.stop()
            }
        }
    }

    func opened(_ c: ClientSocket) { connected += 1 }
    func message(_ c: ClientSocket, _ payload: UnsafeRawBufferPointer) {}
    func closed(_ c: ClientSocket, handshakeDone: Bool) {
        if handshakeDone { if !finished || result["closedDuringHold"] == nil { closedAfterOpen += 1 } } else { failed += 1 }
    }
}
