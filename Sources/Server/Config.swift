import RedisBridge
#if canImport(Glibc)
import Glibc
#endif

/// Runwire's settings, read from the environment, a `.env` file in the working directory and
/// command-line flags (flags win over the environment, the environment over `.env`).
/// See `Config.settings` for every name, default and meaning; README lists the same table.
public struct Config: Sendable {
    public var host = "127.0.0.1"
    public var port = 3001
    public var reusePort = false
    public var redisURL: RedisEndpoint?
    public var useRedisWebSocket = false
    public var enableArtifactCleanup = true
    public var artifactRetentionDays = 30
    public var cleanupIntervalHours = 24.0
    public var storageDir = "./data"
    public var publicURL = ""
    public var apiKeys: [String] = []
    public var tokenSecret: String?
    public var urlSigningSecret: String?
    /// Earlier signing secrets that still verify (key rotation); they never sign.
    public var urlSigningSecretsPrevious: [String] = []
    /// Lifetime of a signed download URL, seconds.
    public var signedURLTTL = 3600
    /// Largest artifact upload, bytes (413 beyond).
    public var maxArtifactBytes: Int64 = 1 << 30
    public var traceCompressionLevel = 9
    public var compressionThreads = 2
    public var logLevel = "info"
    public var logFormat = "text"
    public var maxHeaderBytes = 16 * 1024
    public var headerTimeout = 10.0
    public var idleTimeout = 60.0
    public var sweepInterval = 1.0
    public var insecure = false
    public var enableEcho = false
    /// Origins allowed to open WebSockets; empty = any.
    public var allowedOrigins: [String] = []
    public var wsMaxMessageBytes = 1 << 20
    public var wsPingInterval = 30.0
    public var wsDeflate = true
    public var wsMaxQueuedBytes = 1 << 20
    public var wsMaxSubscriptions = 100
    public var eventMaxBytes = 1 << 20
    public var historyMaxEvents = 10_000
    public var historyMaxBytes = 256 << 20
    public var runIdleTimeout = 3600.0
    public var runFinishedGrace = 600.0
    /// Event loops (threads) in this process, sharing the port and one hub; 1 by default.
    public var loops = 1
    /// Seconds between cluster heartbeats in Redis (an instance's registration lives 3×).
    public var clusterHeartbeat = 5.0
    /// Seconds a Redis command may wait for its answer before the connection is dropped.
    public var redisCommandTimeout = 5.0

    public init() {
        compressionThreads = Config.coreCount
        publicURL = "http://\(host):\(port)"
    }

    /// True when neither `API_KEYS` nor `TOKEN_SECRET` is set: the server binds loopback only.
    public var protectedMode: Bool { apiKeys.isEmpty && tokenSecret == nil }

    static var coreCount: Int { Swift.max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }
}

/// A setting that could not be used; `description` is the one line printed at start-up.
public struct ConfigError: Error, CustomStringConvertible, Equatable {
    /// The variable name (`PORT`), or `.env` for a malformed file line.
    public let setting: String
    public let message: String
    public var description: String { "invalid \(setting): \(message)" }
}

/// `REDIS_URL`, parsed into where and how to reach Redis:
/// - `redis://[[user]:password@]host[:port][/db]` — one server;
/// - `redis+sentinel://[[user]:password@]host[:port][,host[:port]…]/MASTER_NAME[/db]` — the
///   master that these sentinels name (port 26379 by default; the password is the data nodes';
///   `sentinelPassword` is the sentinels' own, from `REDIS_SENTINEL_PASSWORD`).
/// `redis+cluster://` (Redis Cluster) is refused with a message saying it is not supported yet.
extension RedisEndpoint {
    /// Parses the URL or says what is wrong with it (never echoing the password).
    public static func parse(_ text: String, sentinelPassword: String? = nil) -> Result<RedisEndpoint, ConfigError> {
        func fail(_ m: String) -> Result<RedisEndpoint, ConfigError> { .failure(ConfigError(setting: "REDIS_URL", message: m)) }
        if text.hasPrefix("redis+cluster://") {
            return fail("redis+cluster:// (Redis Cluster) is not supported by this version; use redis:// (one server) or redis+sentinel://")
        }
        let sentinel = text.hasPrefix("redis+sentinel://")
        guard sentinel || text.hasPrefix("redis://") else {
            return fail("must start with redis:// or redis+sentinel:// (got a URL with another scheme)")
        }
        var rest = Substring(text.dropFirst(sentinel ? "redis+sentinel://".count : "redis://".count))
        var password: String?
        var username: String?
        if let at = rest.lastIndex(of: "@") {
            let auth = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = auth.firstIndex(of: ":") {
                if colon != auth.startIndex { username = String(auth[..<colon]) }
                password = String(auth[auth.index(after: colon)...])
            } else if !auth.isEmpty {
                password = String(auth)
            }
        }
        var path: [Substring] = []
        if let slash = rest.firstIndex(of: "/") {
            path = rest[rest.index(after: slash)...].split(separator: "/", omittingEmptySubsequences: false)
            rest = rest[..<slash]
        }
        var masterName: String?
        if sentinel {
            guard let name = path.first, !name.isEmpty else { return fail("redis+sentinel:// needs the master's name after the hosts (…/MASTER_NAME)") }
            masterName = String(name)
            path.removeFirst()
        }
        var database = 0
        if path.count > 1 { return fail("has more path than \(sentinel ? "/MASTER_NAME/db" : "/db")") }
        if let db = path.first, !db.isEmpty {
            guard let d = Int(db), d >= 0, d < 65536 else { return fail("database '\(db)' is not a number") }
            database = d
        }
        var nodes: [RedisNode] = []
        for part in sentinel ? rest.split(separator: ",", omittingEmptySubsequences: false) : [rest] {
            switch node(part, defaultPort: sentinel ? 26379 : 6379) {
            case .success(let n): nodes.append(n)
            case .failure(let e): return .failure(e)
            }
        }
        if let masterName {
            return .success(RedisEndpoint(host: "", port: 0, password: password, database: database, username: username,
                                          sentinels: RedisSentinels(nodes: nodes, masterName: masterName, password: sentinelPassword)))
        }
        return .success(RedisEndpoint(host: nodes[0].host, port: nodes[0].port, password: password, database: database, username: username))
    }

    /// `host[:port]` or `[v6]:port`; the error says which part is wrong.
    private static func node(_ text: Substring, defaultPort: Int) -> Result<RedisNode, ConfigError> {
        func fail(_ m: String) -> Result<RedisNode, ConfigError> { .failure(ConfigError(setting: "REDIS_URL", message: m)) }
        var host = String(text)
        var port = defaultPort
        if let colon = text.lastIndex(of: ":"), !text.hasSuffix("]") {
            host = String(text[..<colon])
            let p = text[text.index(after: colon)...]
            guard let n = Int(p), (1...65535).contains(n) else { return fail("port '\(p)' is not 1-65535") }
            port = n
        }
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { return fail("has no host") }
        return .success(RedisNode(host: host, port: port))
    }
}
