import Foundation

/// A real Redis Sentinel (`redis-server CONF --sentinel`) on a free loopback port, watching the
/// master `name` at 127.0.0.1:`masterPort`, started and stopped by a test. Failure detection is
/// fast (`down-after-milliseconds 1000`) so that a failover fits a test's bounded wait. With
/// `password` the sentinel itself requires `AUTH`.
public final class RedisSentinel: @unchecked Sendable {
    public let port: Int
    public let dir: String
    public let password: String?
    private let process: Process

    public init(name: String, masterPort: Int, quorum: Int, password: String? = nil) throws {
        self.password = password
        port = try RedisServer.freePort()
        dir = NSTemporaryDirectory() + "sentinel-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let conf = """
            port \(port)
            bind 127.0.0.1
            dir \(dir)
            sentinel monitor \(name) 127.0.0.1 \(masterPort) \(quorum)
            sentinel down-after-milliseconds \(name) 1000
            sentinel failover-timeout \(name) 10000
            sentinel parallel-syncs \(name) 1
            \(password.map { "requirepass \($0)" } ?? "")

            """
        try conf.write(toFile: dir + "/sentinel.conf", atomically: true, encoding: .utf8) // sentinel rewrites it
        process = try RedisServer.launch([dir + "/sentinel.conf", "--sentinel"], port: port, password: password)
    }

    /// Runs one command through redis-cli against this sentinel (bounded: 10 s).
    @discardableResult
    public func cli(_ args: [String]) throws -> String {
        try RedisServer.cli(port: port, password: password, args)
    }

    /// Freezes the sentinel (SIGSTOP; `stop()` thaws it): the kernel still accepts
    /// connections, nothing answers.
    public func pause() { kill(process.processIdentifier, SIGSTOP) }

    /// Stops the sentinel (SIGTERM, then SIGKILL after 5 s) and removes its directory.
    public func stop() {
        RedisServer.halt(process)
        try? FileManager.default.removeItem(atPath: dir)
    }
}
