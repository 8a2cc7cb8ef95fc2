import ArgumentParser
import Artifacts
import CShimSys
#if canImport(Glibc)
import Glibc
#endif

/// `runwire-bench`: load clients on Runwire's own reactor, for Runwire and its peers.
@main
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "runwire-bench",
        abstract: "Load clients for Runwire (and peers such as nchan), on loopback sockets.",
        subcommands: [Idle.self, Echo.self, Fanout.self, Cluster.self, HTTPLoad.self, Report.self, Gzip.self, RedisRTT.self]
    )
}

/// Prints a scenario's result: with `json`, `jsonLine(name, result)`; else a table.
func emit(_ name: String, _ result: [String: String], json: Bool) {
    if json {
        print(jsonLine(name, result))
    } else {
        print("\(name):")
        for (k, v) in result.sorted(by: { $0.key < $1.key }) { print("  \(k.padding(22)) \(v)") }
    }
}

/// One JSON object on one line: `scenario` first, then the fields by key. Scenarios keep
/// their results as text; here each value gets its JSON type (`jq '.delivered > 0'` must work):
/// a number (`12`, `-1`, `0.0123`, `1e-05`) is written as a JSON number, `true`/`false` as a
/// boolean, `n/a` (and a non-finite `inf`/`nan`) as `null`, anything else as an escaped string.
/// The fields in `textFields` stay strings whatever they hold. `WorkerFleet.parseResult`
/// reads such a line back into the same text.
func jsonLine(_ name: String, _ result: [String: String]) -> String {
    let fields = [("scenario", name)] + result.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    return "{" + fields.map { FlatJSON.quote($0.0) + ":" + jsonValue($0.1, text: textFields.contains($0.0)) }.joined(separator: ",") + "}"
}

/// Result fields that are text even when they look like a number: a file path, and the
/// comma-separated lists workers send their parent (one run's list is a single number).
let textFields: Set<String> = ["scenario", "file", "histogram", "subscribersPerRun", "publishedPerRun"]

/// `value` as a JSON value: number, boolean or null when it spells one, else a string.
func jsonValue(_ value: String, text: Bool = false) -> String {
    if text { return FlatJSON.quote(value) }
    switch value {
    case "true", "false": return value
    case "n/a", "inf", "-inf", "nan", "-nan": return "null"
    default: return isJSONNumber(value) ? value : FlatJSON.quote(value)
    }
}

/// Whether `s` is a number as RFC 8259 §6 spells it: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
func isJSONNumber(_ s: String) -> Bool {
    let b = Array(s.utf8)
    var i = 0
    func digits() -> Int {
        let start = i
        while i < b.count, b[i] >= UInt8(ascii: "0"), b[i] <= UInt8(ascii: "9") { i += 1 }
        return i - start
    }
    if i < b.count, b[i] == UInt8(ascii: "-") { i += 1 }
    let intStart = i
    let n = digits()
    guard n > 0, n == 1 || b[intStart] != UInt8(ascii: "0") else { return false }
    if i < b.count, b[i] == UInt8(ascii: ".") {
        i += 1
        guard digits() > 0 else { return false }
    }
    if i < b.count, b[i] == UInt8(ascii: "e") || b[i] == UInt8(ascii: "E") {
        i += 1
        if i < b.count, b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") { i += 1 }
        guard digits() > 0 else { return false }
    }
    return i == b.count
}

/// The one place the load clients' loopback-only rule lives: a `scheme://host:port/path` URL
/// whose host is in 127.0.0.0/8 (or localhost), else a usage error naming the option.
func loopbackTarget(_ text: String, scheme: String, option: String) throws -> WSURL {
    let prefix = scheme + "://"
    guard text.hasPrefix(prefix), let u = WSURL("ws://" + text.dropFirst(prefix.count)),
          u.host.hasPrefix("127.") || u.host == "localhost" else {
        throw ValidationError("\(option) must be \(prefix)127.x.x.x:PORT/… (loopback only)")
    }
    return u
}

extension String {
    func padding(_ n: Int) -> String { count >= n ? self : self + String(repeating: " ", count: n - count) }
}

struct Idle: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Open and hold N idle WebSocket connections; report server RSS per connection.")
    @Option(help: "ws://host:port/path ({run} is replaced by run-<n>).") var url: String
    @Option(help: "Connections to open (~19,000 per process: past that, worker processes; see --procs).") var conns: Int = 1000
    @Option(help: "Runs the connections are spread over ({run} in the URL).") var runs: Int = 1
    @Option(help: "Comma-separated local source addresses (127.0.0.2,…): ~28k connections each.") var src: String = ""
    @Option(help: "Server process ids (repeat or comma-separate) whose resident memory growth is summed.") var serverPid: [String] = []
    @Option(help: "Seconds to hold the connections after the last one opened.") var hold: Double = 2
    @Option(help: "Give up opening after this many seconds.") var timeout: Double = 120
    @Option(help: "Worker processes (default: one per 19,000 connections; 1 = this process only).") var procs: Int?
    @Option(help: "Pin to these CPUs (comma-separated; worker i gets the i-th, round-robin).") var cpu: String?
    @Option(help: .hidden) var worker: String?
    @Flag(help: "One JSON object instead of a table.") var json = false

    func run() throws {
        let r = try results(executable: WorkerFleet.ownExecutable)
        emit("idle", r, json: json)
        try failUnlessEveryWorkerReported(r)
    }

    /// The run's result; with more than one process, `executable` is re-executed per worker.
    func results(executable: String) throws -> [String: String] {
        let u = try loopbackTarget(url, scheme: "ws", option: "--url")
        let role = try workerRole(worker)
        let procs = try processCount(procs, conns: conns)
        guard timeout > 0 && timeout <= 600, hold >= 0 && hold <= 600 else { throw ValidationError("bounds: --timeout 0-600 s, --hold 0-600 s") }
        var listed = Set<Int32>()
        let pids = try serverPid.flatMap { $0.split(separator: ",") }.map { text in
            guard let pid = Int32(text) else { throw ValidationError("--server-pid: \(text) is not a process id") }
            return pid
        }.filter { listed.insert($0).inserted } // a process named twice is counted once
        CShim_stdout_line_buffered()
        try pin(cpu)
        let sources = src.split(separator: ",").map(String.init)
        if procs > 1 && role == nil {
            return try IdleFleet(command: self, procs: procs, serverPIDs: pids, executable: executable).run()
        }
        return IdleScenario(url: u, conns: conns, runs: runs, sources: sources, serverPIDs: pids, hold: hold, timeout: timeout,
                            worker: role).run()
    }
}

struct Echo: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Round trips of small messages on a WebSocket echo endpoint.")
    @Option(help: "ws://host:port/path of an echo endpoint.") var url: String
    @Option(help: "Connections, each with one message in flight.") var conns: Int = 100
    @Option(help: "Seconds to measure.") var duration: Double = 10
    @Option(help: "Message size in bytes.") var size: Int = 32
    @Flag(help: "One JSON object instead of a table.") var json = false

    func run() throws {
        let u = try loopbackTarget(url, scheme: "ws", option: "--url")
        guard duration > 0 && duration <= 600, conns > 0 && conns <= connectionsPerProcess else {
            throw ValidationError("--duration must be 0-600 s and --conns 1-\(connectionsPerProcess)")
        }
        CShim_stdout_line_buffered()
        emit("echo", EchoScenario(url: u, conns: conns, duration: duration, size: size).run(), json: json)
    }
}

struct Fanout: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "N subscribers over R runs, a publisher at M events/s: delivery, order and latency.")
    @Option(help: "Subscriber URL template, e.g. ws://127.0.0.1:3001/api/tests/{run}/events (nchan: ws://…/sub/{run}).")
    var url: String = "ws://127.0.0.1:3001/api/tests/{run}/events"
    @Option(help: "Publish URL template, e.g. http://127.0.0.1:3001/api/tests/{run}/events (nchan: http://…/pub/{run}).")
    var publishUrl: String = "http://127.0.0.1:3001/api/tests/{run}/events"
    @Option(help: "Subscribers (~19,000 per process: past that, worker processes; see --procs).") var conns: Int = 1000
    @Option(help: "Runs the subscribers and events are spread over.") var runs: Int = 1
    @Option(help: "Events per second (all runs together).") var rate: Double = 100
    @Option(help: "Seconds of publishing.") var duration: Double = 10
    @Option(help: "Approximate event size in bytes.") var size: Int = 100
    @Option(help: "Publisher connections.") var publishers: Int = 4
    @Option(help: "Requests in flight per publisher connection.") var window: Int = 64
    @Option(help: "Comma-separated source addresses for subscribers.") var src: String = ""
    @Flag(help: "Only subscribe and measure (another process publishes).") var noPublish = false
    @Option(help: "Run name prefix (default: b<pid>-, fresh per invocation; give the same to cooperating processes).")
    var runPrefix: String?
    @Option(help: "Worker processes (default: one per 19,000 subscribers; 1 = this process only). Worker 0 publishes.")
    var procs: Int?
    @Option(help: "Pin to these CPUs (comma-separated; worker i gets the i-th, round-robin).") var cpu: String?
    @Option(help: .hidden) var worker: String?
    @Flag(help: "One JSON object instead of a table.") var json = false

    func run() throws {
        let r = try results(executable: WorkerFleet.ownExecutable)
        emit("fanout", r, json: json)
        try failUnlessEveryWorkerReported(r)
    }

    /// The run's result; with more than one process, `executable` is re-executed per worker.
    func results(executable: String) throws -> [String: String] {
        let u = try loopbackTarget(url, scheme: "ws", option: "--url")
        let pub = try loopbackTarget(publishUrl, scheme: "http", option: "--publish-url")
        let role = try workerRole(worker)
        let procs = try processCount(procs, conns: conns)
        guard duration > 0 && duration <= 600, rate > 0 && rate <= 1_000_000, runs >= 1 && runs <= 100_000 else {
            throw ValidationError("bounds: --duration 0-600 s, --rate 1-1000000, --runs 1-100000")
        }
        CShim_stdout_line_buffered()
        try pin(cpu)
        let prefix = runPrefix ?? "b\(getpid())-"
        if procs > 1 && role == nil {
            return try FanoutFleet(command: self, procs: procs, runPrefix: prefix, executable: executable).run()
        }
        let o = FanoutScenario.Options(subscribeURL: u, publishHost: pub.host, publishPort: pub.port, publishPath: pub.path,
                                       conns: conns, runs: runs, rate: rate, duration: duration, size: size,
                                       publishers: publishers, window: window,
                                       sources: src.split(separator: ",").map(String.init), publish: !noPublish,
                                       runPrefix: prefix, worker: role)
        return FanoutScenario(o).run()
    }
}

struct Cluster: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Subscribers spread over several Runwire instances, events published over one or more: every event once, in seq order, everywhere.",
        discussion: "Exits with status 1 when any event is missing, duplicated, out of order or different between subscribers."
    )
    @Option(help: "Comma-separated subscriber URL templates, one per instance (ws://127.0.0.1:A/api/tests/{run}/events,ws://127.0.0.1:B/…).")
    var url: String = "ws://127.0.0.1:3001/api/tests/{run}/events"
    @Option(help: "Comma-separated publish URL templates; a run's events alternate over them.")
    var publishUrl: String = "http://127.0.0.1:3001/api/tests/{run}/events"
    @Option(help: "Subscribers (round-robin over the instances).") var conns: Int = 100
    @Option(help: "Runs.") var runs: Int = 1
    @Option(help: "Events per second (all runs together).") var rate: Double = 100
    @Option(help: "Seconds of publishing.") var duration: Double = 5
    @Option(help: "Approximate event size in bytes.") var size: Int = 100
    @Option(help: "Publisher connections per publish URL.") var publishers: Int = 2
    @Option(help: "Requests in flight per publisher connection.") var window: Int = 64
    @Option(help: "Seconds to wait for acknowledgements and deliveries after the last publish.") var drain: Double = 5
    @Option(help: "Comma-separated source addresses for subscribers.") var src: String = ""
    @Option(help: "Run name prefix (default: c<pid>-).") var runPrefix: String?
    @Option(help: "Pin to these CPUs (comma-separated).") var cpu: String?
    @Flag(help: "One JSON object instead of a table.") var json = false

    func run() throws {
        let r = try results()
        emit("cluster", r, json: json)
        if r["ok"] != "true" { throw ExitCode.failure }
    }

    func results() throws -> [String: String] {
        let subs = try url.split(separator: ",").map { try loopbackTarget(String($0), scheme: "ws", option: "--url") }
        let pubs = try publishUrl.split(separator: ",").map { try loopbackTarget(String($0), scheme: "http", option: "--publish-url") }
        guard !subs.isEmpty, !pubs.isEmpty, duration > 0 && duration <= 600, rate > 0 && rate <= 100_000,
              conns >= 1 && conns <= maxConnectionsPerProcess, runs >= 1 && runs <= 10_000, drain >= 0 && drain <= 120,
              publishers >= 1 && publishers <= 64, window >= 1 else {
            throw ValidationError("bounds: --duration 0-600 s, --rate 1-100000, --conns 1-\(maxConnectionsPerProcess), --runs 1-10000, --drain 0-120 s, --publishers 1-64")
        }
        CShim_stdout_line_buffered()
        try pin(cpu)
        let o = ClusterScenario.Options(subscribeURLs: subs, publishURLs: pubs, conns: conns, runs: runs, rate: rate,
                                        duration: duration, size: size, publishers: publishers, window: window,
                                        sources: src.split(separator: ",").map(String.init),
                                        runPrefix: runPrefix ?? "c\(getpid())-", drain: drain)
        return ClusterScenario(o).run()
    }
}

struct HTTPLoad: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "http", abstract: "Keep-alive GETs: requests/s and latency.")
    @Option(help: "http://127.x.x.x:PORT/path") var url: String = "http://127.0.0.1:3001/health"
    @Option(help: "Connections, each with one request in flight.") var conns: Int = 100
    @Option(help: "Seconds to measure.") var duration: Double = 10
    @Flag(help: "One JSON object instead of a table.") var json = false

    func run() throws {
        let u = try loopbackTarget(url, scheme: "http", option: "--url")
        guard duration > 0 && duration <= 600, conns > 0 && conns <= connectionsPerProcess else {
            throw ValidationError("--duration must be 0-600 s and --conns 1-\(connectionsPerProcess)")
        }
        CShim_stdout_line_buffered()
        emit("http", HTTPScenario(host: u.host, port: u.port, path: u.path, conns: conns, duration: duration).run(), json: json)
    }
}

struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "An HTML page with an SVG latency chart comparing runs (JSON lines from --json).")
    @Option(help: "The page to write.") var out: String = "report.html"
    @Option(help: "Title of the page.") var title: String = "runwire-bench latency"
    @Argument(help: "Files of JSON lines (one run per line; a \"label\" field names it).") var files: [String]

    func run() throws {
        var runs: [ReportPage.Run] = []
        for f in files {
            guard let text = try? String(contentsOfFile: f, encoding: .utf8) else { throw ValidationError("cannot read \(f)") }
            runs += ReportPage.runs(fromJSONLines: text)
        }
        guard !runs.isEmpty else { throw ValidationError("no runs with latency percentiles in \(files.joined(separator: ", "))") }
        try ReportPage.html(runs, title: title).write(toFile: out, atomically: true, encoding: .utf8)
        print("wrote \(out) (\(runs.count) runs)")
    }
}
