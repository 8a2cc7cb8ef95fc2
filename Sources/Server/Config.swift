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

/// `REDIS_URL`: `redis://[[user]:password@]host:port[/db]`, parsed into where and how to reach
/// Redis.
extension RedisEndpoint {
    /// Parses the URL or says what is wrong with it (never echoing the password).
    public static func parse(_ text: String) -> Result<RedisEndpoint, ConfigError> {
        func fail(_ m: String) -> Result<RedisEndpoint, ConfigError> { .failure(ConfigError(setting: "REDIS_URL", message: m)) }
        guard text.hasPrefix("redis://") else { return fail("must start with redis:// (got a URL with another scheme)") }
        var rest = Substring(text.dropFirst("redis://".count))
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
        var database = 0
        if let slash = rest.firstIndex(of: "/") {
            let db = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
            if !db.isEmpty {
                guard let d = Int(db), d >= 0, d < 65536 else { return fail("database '\(db)' is not a number") }
                database = d
            }
        }
        var host = String(rest)
        var port = 6379
        if let colon = rest.lastIndex(of: ":"), !rest.hasSuffix("]") {
            host = String(rest[..<colon])
            let p = rest[rest.index(after: colon)...]
            guard let n = Int(p), (1...65535).contains(n) else { return fail("port '\(p)' is not 1-65535") }
            port = n
        }
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { return fail("has no host") }
        return .success(RedisEndpoint(host: host, port: port, password: password, database: database, username: username))
    }
}
