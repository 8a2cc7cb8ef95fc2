import Foundation
import RedisServerSupport
import Testing

/// The built `runwire` executable, started as a child process (optionally through `sh -c`
/// so a test can lower its limits), with its log read to learn the port.
final class ServerProcess: ListeningServer {
    let process = Process()
    let stderr = Pipe()
    private(set) var log = ""
    private(set) var port = 0

    /// The built `runwire` executable.
    static var binary: String { builtExecutable("runwire") }

    /// Starts `runwire serve ARGS` with `env`; `shellPrefix` (e.g. "ulimit -n 64;") runs first.
    init(_ args: [String] = [], env: [String: String] = [:], shellPrefix: String = "", cwd: String? = nil) throws {
        var environment = ProcessInfo.processInfo.environment
        environment["STORAGE_DIR"] = environment["STORAGE_DIR"] ?? NSTemporaryDirectory() + "runwire-proc-\(UUID().uuidString)"
        environment.merge(env) { $1 }
        process.environment = environment
        let quoted = ([Self.binary, "serve"] + args).map { "'\($0)'" }.joined(separator: " ")
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", "\(shellPrefix) exec \(quoted)"]
        if let cwd { process.currentDirectoryURL = URL(fileURLWithPath: cwd) }
        process.standardError = stderr
        process.standardOutput = FileHandle.nullDevice
        try process.run()
    }

    /// Reads the log until the "listening" line (or exit); bounded.
    func waitListening(timeout: Double = 10) throws {
        let end = Date().addingTimeInterval(timeout)
        while Date() < end {
            if let r = log.range(of: #"address("?[=:]"?)[^ "]*:(\d+)"#, options: .regularExpression) {
                port = Int(log[r].split(separator: ":").last!)!
                return
            }
            if !readSome(until: end) { break }
        }
        throw TestError("server did not report listening; log: \(log)")
    }

    /// Reads what stderr has, waiting at most until `until`; false at EOF or timeout.
    @discardableResult
    func readSome(until: Date) -> Bool {
        let fd = stderr.fileHandleForReading.fileDescriptor
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&p, 1, Int32(max(0, until.timeIntervalSinceNow) * 1000)) > 0 else { return false }
        var chunk = [UInt8](repeating: 0, count: 8192)
        let n = read(fd, &chunk, chunk.count)
        guard n > 0 else { return false }
        log += String(decoding: chunk[0..<n], as: UTF8.self)
        return true
    }

    /// Waits (bounded) for exit and returns the status; kills on timeout.
    func waitExit(timeout: Double = 10) -> Int32? {
        let end = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < end { readSome(until: min(end, Date().addingTimeInterval(0.05))) }
        if process.isRunning { process.terminate(); return nil }
        while readSome(until: Date().addingTimeInterval(0.05)) {}
        return process.terminationStatus
    }

    func signal(_ sig: Int32) { kill(process.processIdentifier, sig) }

    /// Lines a crashing process leaves on stderr (Swift runtime traps and its backtracer,
    /// sanitizers, glibc's heap checks, failed C asserts such as hiredis's).
    static let crashMarkers = ["Fatal error", "Program crashed", "Segmentation fault", "SIGSEGV", "SIGBUS", "SIGILL",
                               "SIGABRT", "SIGFPE", "AddressSanitizer", "LeakSanitizer", "ThreadSanitizer",
                               "UndefinedBehaviorSanitizer", "runtime error:", "double free", "free(): ", "malloc(): ",
                               "corrupted size", "stack smashing", "Assertion"]

    /// The graceful stop a deployment does, checked: SIGTERM, then `expectCleanExit`.
    @discardableResult
    func stopAndCheck(timeout: Double = 15, sourceLocation: SourceLocation = #_sourceLocation) -> Bool {
        signal(SIGCONT) // a test may have left it stopped
        signal(SIGTERM)
        return expectCleanExit(timeout: timeout, sourceLocation: sourceLocation)
    }

    /// For an instance already told to stop: waits (bounded) for it to exit and records an
    /// issue, with the log's tail, unless it exited with status 0 (not by a signal) and its
    /// stderr has no crash line. One that has not exited within `timeout` is killed.
    @discardableResult
    func expectCleanExit(timeout: Double = 15, sourceLocation: SourceLocation = #_sourceLocation) -> Bool {
        let end = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < end { readSome(until: min(end, Date().addingTimeInterval(0.05))) }
        var problem: String?
        if process.isRunning {
            signal(SIGKILL)
            process.waitUntilExit()
            problem = "did not exit within \(timeout) s of being told to stop (killed)"
        } else if process.terminationReason == .uncaughtSignal {
            problem = "was killed by signal \(process.terminationStatus)"
        } else if process.terminationStatus != 0 {
            problem = "exited with status \(process.terminationStatus)"
        }
        // The rest of stderr: all in the pipe by now (this process holds the write end too, so
        // no EOF comes; a pause of 50 ms ends it).
        let drainEnd = Date().addingTimeInterval(2)
        while Date() < drainEnd && readSome(until: Date().addingTimeInterval(0.05)) {}
        if problem == nil, let marker = Self.crashMarkers.first(where: { log.contains($0) }) {
            problem = "logged a crash (\"\(marker)\")"
        }
        guard let problem else { return true }
        // From the first crash line on (a sanitizer's report starts there), else the last lines.
        let lines = log.split(separator: "\n", omittingEmptySubsequences: false)
        let crash = lines.firstIndex { line in Self.crashMarkers.contains { line.contains($0) } }
        let excerpt = (crash.map { lines[max(0, $0 - 5)...].prefix(60) } ?? lines.suffix(40)).joined(separator: "\n")
        let which = crash == nil ? "ends" : "around the crash"
        Issue.record("runwire (port \(port)) \(problem); its stderr (\(which)):\n\(excerpt)", sourceLocation: sourceLocation)
        return false
    }

    /// CPU seconds (user + system) the process has used, from /proc.
    var cpuSeconds: Double {
        guard let stat = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return 0 }
        let fields = stat[stat.index(close, offsetBy: 2)...].split(separator: " ")
        let ticks = (Double(fields[11]) ?? 0) + (Double(fields[12]) ?? 0)
        return ticks / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// A process still running is resumed (it may have been stopped), terminated, and killed
    /// when it has not exited within 10 s.
    deinit {
        guard process.isRunning else { return }
        signal(SIGCONT)
        process.terminate()
        let end = Date().addingTimeInterval(10)
        while process.isRunning && Date() < end { usleep(10_000) }
        if process.isRunning { signal(SIGKILL); process.waitUntilExit() }
    }
}

extension Array where Element == ServerProcess {
    /// `stopAndCheck` for several instances: all are told to stop at once, then each is checked.
    func stopAndCheck(timeout: Double = 15, sourceLocation: SourceLocation = #_sourceLocation) {
        for p in self { p.signal(SIGCONT); p.signal(SIGTERM) }
        for p in self { p.expectCleanExit(timeout: timeout, sourceLocation: sourceLocation) }
    }
}
