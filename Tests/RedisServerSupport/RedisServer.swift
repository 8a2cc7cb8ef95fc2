import Foundation

/// A real redis-server on a free loopback port, started and stopped by a test. Without
/// `persistent` it keeps nothing on disk; with it, an append-only file in its own directory
/// survives `restart()`. Throws when redis-server is not installed (`.ci/deps test` installs it).
public final class RedisServer: @unchecked Sendable {
    public let port: Int
    public let dir: String
    public let persistent: Bool
    public let password: String?
    private var process: Process

    /// `port`: a given port (e.g. one a server under test already tries), else a free one.
    public init(persistent: Bool = false, password: String? = nil, port: Int? = nil) throws {
        self.port = try port ?? Self.freePort()
        dir = NSTemporaryDirectory() + "redis-\(UUID().uuidString)"
        self.persistent = persistent
        self.password = password
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        process = Process()
        try launch()
    }

    private func launch() throws {
        var args = ["--port", "\(port)", "--bind", "127.0.0.1", "--save", "", "--dir", dir,
                    "--appendonly", persistent ? "yes" : "no", "--appendfsync", "always"]
        if let password { args += ["--requirepass", password] }
        process = try Self.launch(args, port: port, password: password)
    }

    /// Starts `redis-server ARGS` and waits (up to 10 s) until 127.0.0.1:`port` answers PING;
    /// a process that does not is killed.
    static func launch(_ args: [String], port: Int, password: String?) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/redis-server")
        process.arguments = args
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let end = Date().addingTimeInterval(10)
        while Date() < end {
            if (try? cli(port: port, password: password, ["PING"])) == "PONG" { return process }
            usleep(20_000)
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        throw RedisServerError("redis-server \(args.joined(separator: " ")) did not answer on port \(port)")
    }

    /// Runs one command through redis-cli and returns its trimmed output (bounded: 10 s).
    @discardableResult
    public func cli(_ args: [String]) throws -> String {
        try Self.cli(port: port, password: password, args)
    }

    /// Runs one command through redis-cli against 127.0.0.1:`port` (bounded: 10 s).
    public static func cli(port: Int, password: String?, _ args: [String]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/redis-cli")
        p.arguments = ["-h", "127.0.0.1", "-p", "\(port)"] + (password.map { ["-a", $0, "--no-auth-warning"] } ?? []) + args
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        // Bounded: a redis-cli still running after 10 s is stopped (which ends its output).
        let watchdog = DispatchWorkItem { if p.isRunning { p.terminate() } }
        DispatchQueue.global().asyncAfter(deadline: .now() + 10, execute: watchdog)
        let data = out.fileHandleForReading.readDataToEndOfFile() // read first: a full pipe would block redis-cli
        p.waitUntilExit()
        watchdog.cancel()
        if p.terminationReason == .uncaughtSignal { throw RedisServerError("redis-cli \(args) timed out") }
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Kills the server at once (SIGKILL, as a crash): nothing is written, no client is told.
    public func crash() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// Stops (SIGTERM, bounded) and starts again on the same port and directory.
    public func restart() throws {
        halt()
        try launch()
    }

    /// Freezes (SIGSTOP) or thaws (SIGCONT) the server: connections stay open, nothing answers.
    public func pause() { kill(process.processIdentifier, SIGSTOP) }
    public func resume() { kill(process.processIdentifier, SIGCONT) }

    private func halt() { Self.halt(process) }

    /// Stops a redis-server process: SIGCONT (it may be paused), SIGTERM, then SIGKILL after 5 s.
    static func halt(_ process: Process) {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGCONT)
        process.terminate()
        let end = Date().addingTimeInterval(5)
        while process.isRunning && Date() < end { usleep(10_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() }
    }

    /// Stops the server and removes its directory.
    public func stop() {
        halt()
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// `redis://…` for this server.
    public var url: String { "redis://\(password.map { ":\($0)@" } ?? "")127.0.0.1:\(port)" }

    public static func freePort() throws -> Int {
        let probe = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(probe) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr)
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(probe, $0, len) == 0 && getsockname(probe, $0, &len) == 0 }
        }
        guard ok else { throw RedisServerError("no free port") }
        return Int(UInt16(bigEndian: addr.sin_port))
    }
}

public struct RedisServerError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}
