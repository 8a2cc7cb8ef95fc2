import CShimSys
import Reactor

/// `idle`: opens and holds N WebSocket connections over R runs, spread over source
/// addresses, and reports the server's resident memory growth per connection (summed over
/// every server process given: a server split over processes with SO_REUSEPORT).
///
/// As a worker (`--procs`), it tells its parent `ready <connected> <failed>` once every
/// connection is open or failed and holds them until the parent says `go` (or goes away); the
/// parent reads the servers' memory in between.
final class IdleScenario: ClientDelegate {
    let loop = EventLoop(sweepInterval: 0.01)
    let url: WSURL
    let total: Int
    let runs: Int
    let sources: [String]
    let serverPIDs: [Int32]
    let worker: WorkerRole?
    var link: ParentLink?
    let hold: Double
    let deadline: Double
    var started = 0, connected = 0, failed = 0, closedAfterOpen = 0
    var lastReport = 0.0, lastConnected = 0, lastFailed = 0
    let began = wallNow()
    var baselineKiB: [Int?] = []
    var finished = false
    var result: [String: String] = [:]

    init(url: WSURL, conns: Int, runs: Int, sources: [String], serverPIDs: [Int32], hold: Double, timeout: Double,
         worker: WorkerRole? = nil) {
        self.url = url
        total = conns
        self.runs = max(1, runs)
        self.sources = sources.isEmpty ? [""] : sources
        self.serverPIDs = serverPIDs
        self.worker = worker
        self.hold = hold
        deadline = wallNow() + timeout
    }

    func run() -> [String: String] {
        baselineKiB = serverPIDs.map { residentKiB(pid: $0) }
        if worker != nil { link = ParentLink(loop: loop) { [unowned self] in self.parentSaid($0) } }
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
            progress("t+\(Int(now - began))s connected \(connected) (+\(connected - lastConnected)/s) failed \(failed) (+\(failed - lastFailed)/s)",
                     worker: worker)
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
        let rss = serverPIDs.map { residentKiB(pid: $0) }
        result["connected"] = "\(connected)"
        result["failed"] = "\(failed)"
        if !serverPIDs.isEmpty, !rss.contains(nil), !baselineKiB.contains(nil) {
            let before = baselineKiB.reduce(0) { $0 + $1! }, after = rss.reduce(0) { $0 + $1! }
            result["serverRSSBeforeKiB"] = "\(before)"
            result["serverRSSAfterKiB"] = "\(after)"
            result["bytesPerConnection"] = connected > 0 ? "\((after - before) * 1024 / connected)" : "n/a"
        }
        if worker != nil {
            ParentLink.tell("ready \(connected) \(failed)")
            loop.onSweep = nil // the parent decides how long to hold
            return
        }
        let pending = holdUntil
        loop.onSweep = { [unowned self] _ in
            if wallNow() >= pending { self.stopHolding() }
        }
    }

    private func stopHolding() {
        result["closedDuringHold"] = "\(closedAfterOpen)"
        loop.forEachSocket { $0.close() }
        loop.stop()
    }

    /// Worker mode: `go` or end of file (the parent is gone) ends the hold.
    private func parentSaid(_ line: String) {
        guard line == "go" || line.isEmpty, result["closedDuringHold"] == nil else { return }
        result["connected"] = "\(connected)"
        result["failed"] = "\(failed)"
        stopHolding()
    }

    func opened(_ c: ClientSocket) { connected += 1 }
    func message(_ c: ClientSocket, _ payload: UnsafeRawBufferPointer) {}
    func closed(_ c: ClientSocket, handshakeDone: Bool) {
        if handshakeDone { if !finished || result["closedDuringHold"] == nil { closedAfterOpen += 1 } } else { failed += 1 }
    }
}
