import ArgumentParser
import CShimSys
#if canImport(Glibc)
import Glibc
#endif

/// Connections one process opens by default: the fd limit (20,000 here) less headroom for
/// publisher connections, pipes and stdio.
let connectionsPerProcess = 19_000
/// The most one process can hold at all.
let maxConnectionsPerProcess = 19_900

/// How many processes a run of `conns` connections uses: `asked`, else one per
/// `connectionsPerProcess`. Bounded: at most 64 processes, each within the fd limit.
func processCount(_ asked: Int?, conns: Int) throws -> Int {
    let p = asked ?? (conns + connectionsPerProcess - 1) / connectionsPerProcess
    guard p >= 1 && p <= 64 else { throw ValidationError("--procs must be 1-64") }
    guard conns >= 1 && conns <= maxConnectionsPerProcess * p else {
        throw ValidationError("--conns must be 1-\(maxConnectionsPerProcess * p) with \(p) process(es) (the fd limit is 20,000 per process)")
    }
    return p
}

/// `--worker i/P` as a role (nil when absent).
func workerRole(_ text: String?) throws -> WorkerRole? {
    guard let text else { return nil }
    guard let role = WorkerRole(text) else { throw ValidationError("--worker must be i/P with 0 <= i < P") }
    return role
}

/// `--cpu 0,1` as a list of CPU numbers.
func cpuList(_ text: String?) throws -> [Int32] {
    guard let text else { return [] }
    return try text.split(separator: ",").map {
        guard let n = Int32($0), n >= 0 else { throw ValidationError("--cpu takes CPU numbers, e.g. 1 or 0,1") }
        return n
    }
}

/// Pins this process to the CPUs of `--cpu` (sched_setaffinity; processes it spawns inherit it
/// unless given their own `--cpu`).
func pin(_ text: String?) throws {
    let cpus = try cpuList(text)
    guard !cpus.isEmpty else { return }
    let rc = cpus.withUnsafeBufferPointer { CShim_set_affinity($0.baseAddress, Int32($0.count)) }
    guard rc == 0 else { throw ValidationError("--cpu \(text ?? ""): sched_setaffinity failed (errno \(-rc))") }
}

/// Arguments every worker gets besides its scenario's: its share of the source addresses and
/// its CPU, the role, one process, JSON output.
func workerArguments(index i: Int, count: Int, sources: [String], cpus: [Int32]) -> [String] {
    var a = ["--procs", "1", "--worker", "\(i)/\(count)", "--json"]
    let mine = WorkerRole.sources(sources, index: i, count: count)
    if !mine.isEmpty { a += ["--src", mine.joined(separator: ",")] }
    if !cpus.isEmpty { a += ["--cpu", "\(cpus[i % cpus.count])"] }
    return a
}

/// Exit status 1 for a multi-process run in which a worker did not report or did not exit
/// cleanly: its connections are missing from the merged counts.
func failUnlessEveryWorkerReported(_ r: [String: String]) throws {
    guard let workers = r["workers"] else { return }
    if r["workersReported"] != workers || r["workersFailed"] != "0" {
        progress("only \(r["workersReported"] ?? "?") of \(workers) workers reported (\(r["workersFailed"] ?? "?") failed)", worker: nil)
        throw ExitCode.failure
    }
}

/// Sum of an integer field over worker results.
func sum(_ key: String, _ results: [[String: String]]) -> Int {
    results.reduce(0) { $0 + (Int($1[key] ?? "") ?? 0) }
}

/// `idle --procs P`: P workers open their shares; once all are ready the parent reads the
/// servers' memory, holds for `--hold` seconds, then tells them to close.
struct IdleFleet {
    let command: Idle
    let procs: Int
    let serverPIDs: [Int32]
    let executable: String

    func run() throws -> [String: String] {
        let c = command
        let sources = c.src.split(separator: ",").map(String.init)
        let cpus = try cpuList(c.cpu)
        let args = (0..<procs).map { i in
            ["idle", "--url", c.url, "--conns", "\(WorkerRole.share(c.conns, index: i, count: procs))", "--runs", "\(c.runs)",
             "--timeout", "\(c.timeout)"] + workerArguments(index: i, count: procs, sources: sources, cpus: cpus)
        }
        let before = serverPIDs.map { residentKiB(pid: $0) }
        let fleet = try WorkerFleet(executable: executable, arguments: args)
        fleet.pump(until: wallNow() + c.timeout + 30) { fleet.allReady }
        let after = serverPIDs.map { residentKiB(pid: $0) }
        print("\(fleet.workers.filter(\.ready).count) of \(procs) workers ready; holding \(c.hold) s")
        fleet.pump(until: wallNow() + c.hold) { false }
        fleet.sendAll("go")
        fleet.pump(until: wallNow() + 30) { fleet.allReported }
        let exitedBadly = fleet.reap(deadline: wallNow() + 5)
        let results = fleet.workers.compactMap(\.result)
        var r = ["workers": "\(procs)", "workersReported": "\(results.count)", "workersFailed": "\(exitedBadly)"]
        for k in ["connected", "failed", "closedDuringHold"] { r[k] = "\(sum(k, results))" }
        if !serverPIDs.isEmpty, !before.contains(nil), !after.contains(nil) {
            let b = before.reduce(0) { $0 + $1! }, a = after.reduce(0) { $0 + $1! }
            let connected = sum("connected", results)
            r["serverRSSBeforeKiB"] = "\(b)"
            r["serverRSSAfterKiB"] = "\(a)"
            r["bytesPerConnection"] = connected > 0 ? "\((a - b) * 1024 / connected)" : "n/a"
        }
        return r
    }
}

/// `fanout --procs P`: P workers subscribe their shares; worker 0 also publishes. The barrier:
/// the parent says `go` only when every worker is subscribed, and forwards worker 0's
/// `published …` counts so listening workers know what to expect and stop draining early.
struct FanoutFleet {
    let command: Fanout
    let procs: Int
    let runPrefix: String
    let executable: String

    func run() throws -> [String: String] {
        let c = command
        let sources = c.src.split(separator: ",").map(String.init)
        let cpus = try cpuList(c.cpu)
        let args = (0..<procs).map { i in
            ["fanout", "--url", c.url, "--publish-url", c.publishUrl,
             "--conns", "\(WorkerRole.share(c.conns, index: i, count: procs))", "--runs", "\(c.runs)",
             "--rate", "\(c.rate)", "--duration", "\(c.duration)", "--size", "\(c.size)",
             "--publishers", "\(c.publishers)", "--window", "\(c.window)", "--run-prefix", runPrefix]
                + (i > 0 || c.noPublish ? ["--no-publish"] : [])
                + workerArguments(index: i, count: procs, sources: sources, cpus: cpus)
        }
        let fleet = try WorkerFleet(executable: executable, arguments: args)
        fleet.pump(until: wallNow() + 150) { fleet.allReady }
        print("\(fleet.workers.filter(\.ready).count) of \(procs) workers subscribed; publishing")
        fleet.sendAll("go")
        fleet.pump(until: wallNow() + c.duration + 40, onLine: { i, line in
            guard line.hasPrefix("published ") else { return }
            for j in fleet.workers.indices where j != i { fleet.send(line, to: j) }
        }) { fleet.allReported }
        let exitedBadly = fleet.reap(deadline: wallNow() + 5)
        var r = Self.merge(fleet.workers.map(\.result), runs: c.runs, publishing: !c.noPublish)
        r["workersFailed"] = "\(exitedBadly)"
        return r
    }

    /// One result from the workers' results (worker 0 first; it published): counts are summed,
    /// expected deliveries are Σ over runs of published × subscribers, and the latency
    /// histograms are merged bucket by bucket before taking percentiles.
    static func merge(_ results: [[String: String]?], runs: Int, publishing: Bool) -> [String: String] {
        let got = results.compactMap { $0 }
        let publisher = results.first.flatMap { $0 } ?? [:]
        func perRun(_ d: [String: String], _ key: String) -> [Int] {
            let v = (d[key] ?? "").split(separator: ",").compactMap { Int($0) }
            return v.count == runs ? v : Array(repeating: 0, count: runs)
        }
        let published = perRun(publisher, "publishedPerRun")
        var subscribers = Array(repeating: 0, count: runs)
        var histogram = Histogram()
        for d in got {
            for (r, n) in perRun(d, "subscribersPerRun").enumerated() { subscribers[r] += n }
            if let h = Histogram(encodedBuckets: d["histogram"] ?? "", max: UInt64(d["maxus"] ?? "") ?? 0) { histogram.merge(h) }
        }
        let expected = zip(published, subscribers).reduce(0) { $0 + $1.0 * $1.1 }
        let delivered = sum("delivered", got)
        let secs = max(Double(publisher["publishSeconds"] ?? "") ?? 0, 0.001)
        var r = [
            "workers": "\(results.count)", "workersReported": "\(got.count)",
            "subscribers": "\(sum("subscribers", got))", "subscribeFailed": "\(sum("subscribeFailed", got))",
            "closedEarly": "\(sum("closedEarly", got))", "runs": "\(runs)",
            "expected": "\(publishing && results.first! != nil ? expected : -1)", "delivered": "\(delivered)",
            "duplicates": "\(sum("duplicates", got))", "missing": "\(sum("missing", got))",
            "deliveriesPerSecond": "\(Int(Double(delivered) / secs))",
        ].merging(histogram.latencyFields) { $1 }
        for k in ["targetRate", "published", "publishRate", "publishOK", "publishErrors", "keptRate"] { r[k] = publisher[k] ?? "n/a" }
        return r
    }
}
