import ArgumentParser
import CShim
#if canImport(Glibc)
import Glibc
#endif

/// `runwire-bench`: load clients on Runwire's own reactor, for Runwire and its peers.
@main
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "runwire-bench",
        abstract: "Load clients for Runwire (and peers such as nchan), on loopback sockets.",
        subcommands: [Idle.self, Echo.self]
    )
}

func emit(_ name: String, _ result: [String: String], json: Bool) {
    if json {
        let body = result.sorted { $0.key < $1.key }.map { "\"\($0.key)\":\"\($0.value)\"" }.joined(separator: ",")
        print("{\"scenario\":\"\(name)\",\(body)}")
    } else {
        print("\(name):")
        for (k, v) in result.sorted(by: { $0.key < $1.key }) { print("  \(k.padding(22)) \(v)") }
    }
}

extension String {
    func padding(_ n: Int) -> String { count >= n ? self : self + String(repeating: " ", count: n - count) }
}

struct Idle: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Open and hold N idle WebSocket connections; report server RSS per connection.")
    @Option(help: "ws://host:port/path ({run} is replaced by run-<n>).") var url: String
    @Option(help: "Connections to open (at most ~19,900 per process: the fd limit).") var conns: Int = 1000
    @Option(help: "Runs the connections are spread over ({run} in the URL).") var runs: Int = 1
    @Option(help: "Comma-separated local source addresses (127.0.0.2,…): ~28k connections each.") var src: String = ""
    @Option(help: "Server process id, to read its resident memory from /proc.") var serverPid: Int32?
    @Option(help: "Seconds to hold the connections after the last one opened.") var hold: Double = 2
    @Option(help: "Give up opening after this many seconds.") var timeout: Double = 120
    @Flag(help: "One JSON object instead of a table.") var json = false

    func run() throws {
        guard let u = WSURL(url), u.host.hasPrefix("127.") || u.host == "localhost" else {
            throw ValidationError("--url must be ws://127.x.x.x:PORT/… (loopback only)")
        }
        CShim_stdout_line_buffered()
        signal(SIGPIPE, SIG_IGN)
        let sources = src.split(separator: ",").map(String.init)
        let s = IdleScenario(url: u, conns: conns, runs: runs, sources: sources, serverPID: serverPid, hold: hold, timeout: timeout)
        emit("idle", s.run(), json: json)
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
        guard let u = WSURL(url), u.host.hasPrefix("127.") || u.host == "localhost" else {
            throw ValidationError("--url must be ws://127.x.x.x:PORT/… (loopback only)")
        }
        guard duration > 0 && duration <= 600, conns > 0 && conns <= 19_000 else {
            throw ValidationError("--duration must be 0-600 s and --conns 1-19000")
        }
        CShim_stdout_line_buffered()
        signal(SIGPIPE, SIG_IGN)
        emit("echo", EchoScenario(url: u, conns: conns, duration: duration, size: size).run(), json: json)
    }
}
