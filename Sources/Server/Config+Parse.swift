import Artifacts
import CShimSys
import RedisBridge

extension Config {
    /// Turns raw values into a checked configuration; the first bad value throws.
    static func build(_ v: [String: String], insecure: Bool) throws -> Config {
        var c = Config()
        c.insecure = insecure
        if let s = v["HOST"] {
            guard !s.isEmpty, CShim_host_resolves(s) == 1 else { throw bad("HOST", "'\(s)' is not an address or resolvable name") }
            c.host = s
        }
        c.port = try int(v, "PORT", c.port, 0...65535, "a port number (0-65535)")
        c.reusePort = try bool(v, "REUSE_PORT", c.reusePort)
        if let s = v["REDIS_URL"], !s.isEmpty {
            switch RedisEndpoint.parse(s, sentinelPassword: v["REDIS_SENTINEL_PASSWORD"].flatMap { $0.isEmpty ? nil : $0 }) {
            case .success(let u): c.redisURL = u
            case .failure(let e): throw e
            }
        }
        c.useRedisWebSocket = try bool(v, "USE_REDIS_WEBSOCKET", c.redisURL != nil)
        if c.useRedisWebSocket && c.redisURL == nil && v["USE_REDIS_WEBSOCKET"] != nil {
            throw bad("USE_REDIS_WEBSOCKET", "is true but REDIS_URL is not set")
        }
        c.enableArtifactCleanup = try bool(v, "ENABLE_ARTIFACT_CLEANUP", c.enableArtifactCleanup)
        c.artifactRetentionDays = try int(v, "ARTIFACT_RETENTION_DAYS", c.artifactRetentionDays, 1...36500, "a number of days (1-36500)")
        c.cleanupIntervalHours = try double(v, "CLEANUP_INTERVAL_HOURS", c.cleanupIntervalHours, 0.001...8760, "hours (0.001-8760)")
        if let s = v["STORAGE_DIR"] {
            guard !s.isEmpty else { throw bad("STORAGE_DIR", "is empty") }
            c.storageDir = s
        }
        c.publicURL = "http://\(c.host.contains(":") ? "[\(c.host)]" : c.host):\(c.port)"
        if let s = v["PUBLIC_URL"], !s.isEmpty {
            guard s.hasPrefix("http://") || s.hasPrefix("https://"), s.count > 8 else {
                throw bad("PUBLIC_URL", "'\(s)' is not an http:// or https:// URL")
            }
            c.publicURL = s.hasSuffix("/") ? String(s.dropLast()) : s
        }
        if let s = v["API_KEYS"], !s.isEmpty {
            let keys = s.split(separator: ",", omittingEmptySubsequences: false).map { String($0.trimmingSpaces()) }
            guard !keys.contains(where: \.isEmpty) else { throw bad("API_KEYS", "has an empty key between commas") }
            c.apiKeys = keys
        }
        if let s = v["TOKEN_SECRET"], !s.isEmpty {
            guard s.utf8.count >= 16 else { throw bad("TOKEN_SECRET", "is shorter than 16 bytes") }
            c.tokenSecret = s
        }
        if let s = v["URL_SIGNING_SECRET"], !s.isEmpty {
            guard s.utf8.count >= 16 else { throw bad("URL_SIGNING_SECRET", "is shorter than 16 bytes") }
            c.urlSigningSecret = s
        }
        if let s = v["URL_SIGNING_SECRET_PREVIOUS"], !s.isEmpty {
            let secrets = s.split(separator: ",", omittingEmptySubsequences: false).map { String($0.trimmingSpaces()) }
            guard !secrets.contains(where: { $0.utf8.count < 16 }) else {
                throw bad("URL_SIGNING_SECRET_PREVIOUS", "has a secret shorter than 16 bytes (or an empty one between commas)")
            }
            c.urlSigningSecretsPrevious = secrets
        }
        // URLSigner refuses expiries further ahead than its maxLifetime: the two must agree.
        c.signedURLTTL = try int(v, "SIGNED_URL_TTL", c.signedURLTTL, 60...Int(URLSigner.maxLifetime), "seconds (60-604800, at most 7 days)")
        c.maxArtifactBytes = Int64(try int(v, "MAX_ARTIFACT_BYTES", Int(c.maxArtifactBytes), 1...(1 << 40), "bytes (1-1099511627776)"))
        c.traceCompressionLevel = try int(v, "TRACE_COMPRESSION_LEVEL", c.traceCompressionLevel, 1...9, "a gzip level (1-9)")
        c.compressionThreads = try int(v, "COMPRESSION_THREADS", c.compressionThreads, 1...256, "a thread count (1-256)")
        if let s = v["LOG_LEVEL"] {
            let levels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]
            guard levels.contains(s.lowercased()) else { throw bad("LOG_LEVEL", "'\(s)' is not one of \(levels.joined(separator: ", "))") }
            c.logLevel = s.lowercased()
        }
        if let s = v["LOG_FORMAT"] {
            guard s == "text" || s == "json" else { throw bad("LOG_FORMAT", "'\(s)' is not text or json") }
            c.logFormat = s
        }
        c.maxHeaderBytes = try int(v, "MAX_HEADER_BYTES", c.maxHeaderBytes, 1024...1_048_576, "bytes (1024-1048576)")
        c.headerTimeout = try double(v, "HEADER_TIMEOUT", c.headerTimeout, 0.1...3600, "seconds (0.1-3600)")
        c.idleTimeout = try double(v, "IDLE_TIMEOUT", c.idleTimeout, 0.1...86400, "seconds (0.1-86400)")
        c.sweepInterval = try double(v, "SWEEP_INTERVAL", c.sweepInterval, 0.05...60, "seconds (0.05-60)")
        c.enableEcho = try bool(v, "ENABLE_ECHO", c.enableEcho)
        if let s = v["ALLOWED_ORIGINS"], !s.isEmpty, s != "*" {
            let origins = s.split(separator: ",", omittingEmptySubsequences: false).map { String($0.trimmingSpaces()) }
            guard !origins.contains(where: \.isEmpty) else { throw bad("ALLOWED_ORIGINS", "has an empty origin between commas") }
            c.allowedOrigins = origins
        }
        c.wsMaxMessageBytes = try int(v, "WS_MAX_MESSAGE_BYTES", c.wsMaxMessageBytes, 125...(1 << 30), "bytes (125-1073741824)")
        c.wsPingInterval = try double(v, "WS_PING_INTERVAL", c.wsPingInterval, 0.1...86400, "seconds (0.1-86400)")
        c.wsDeflate = try bool(v, "WS_DEFLATE", c.wsDeflate)
        c.wsMaxQueuedBytes = try int(v, "WS_MAX_QUEUED_BYTES", c.wsMaxQueuedBytes, 4096...(1 << 30), "bytes (4096-1073741824)")
        c.wsMaxSubscriptions = try int(v, "WS_MAX_SUBSCRIPTIONS", c.wsMaxSubscriptions, 1...100_000, "a count (1-100000)")
        c.eventMaxBytes = try int(v, "EVENT_MAX_BYTES", c.eventMaxBytes, 64...(64 << 20), "bytes (64-67108864)")
        c.historyMaxEvents = try int(v, "HISTORY_MAX_EVENTS", c.historyMaxEvents, 1...10_000_000, "a count (1-10000000)")
        c.historyMaxBytes = try int(v, "HISTORY_MAX_BYTES", c.historyMaxBytes, 4096...(1 << 40), "bytes (4096-1099511627776)")
        c.runIdleTimeout = try double(v, "RUN_IDLE_TIMEOUT", c.runIdleTimeout, 1...(86400 * 30), "seconds (1-2592000)")
        c.runFinishedGrace = try double(v, "RUN_FINISHED_GRACE", c.runFinishedGrace, 0...(86400 * 30), "seconds (0-2592000)")
        if let s = v["LOOPS"], s.trimmingCharacters() == "auto" { c.loops = Config.coreCount } else {
            c.loops = try int(v, "LOOPS", c.loops, 1...64, "a loop count (1-64) or auto")
        }
        if c.loops > 1 && c.redisURL != nil {
            throw bad("LOOPS", "must be 1 with REDIS_URL (run several processes with REUSE_PORT instead: each is one instance)")
        }
        c.clusterHeartbeat = try double(v, "CLUSTER_HEARTBEAT", c.clusterHeartbeat, 0.1...10, "seconds (0.1-10)")
        c.redisCommandTimeout = try double(v, "REDIS_COMMAND_TIMEOUT", c.redisCommandTimeout, 0.5...60, "seconds (0.5-60)")
        if c.protectedMode && !c.insecure && CShim_is_loopback_host(c.host) != 1 {
            throw bad("HOST", "'\(c.host)' is not a loopback address and neither API_KEYS nor TOKEN_SECRET is set (protected mode); set one of them or pass --insecure")
        }
        return c
    }

    private static func bad(_ name: String, _ message: String) -> ConfigError {
        ConfigError(setting: name, message: message)
    }

    private static func int(_ v: [String: String], _ name: String, _ def: Int, _ range: ClosedRange<Int>, _ what: String) throws -> Int {
        guard let s = v[name] else { return def }
        guard let n = Int(s.trimmingCharacters()), range.contains(n) else { throw bad(name, "'\(s)' is not \(what)") }
        return n
    }

    private static func double(_ v: [String: String], _ name: String, _ def: Double, _ range: ClosedRange<Double>, _ what: String) throws -> Double {
        guard let s = v[name] else { return def }
        guard let n = Double(s.trimmingCharacters()), n.isFinite, range.contains(n) else { throw bad(name, "'\(s)' is not \(what)") }
        return n
    }

    private static func bool(_ v: [String: String], _ name: String, _ def: Bool) throws -> Bool {
        guard let s = v[name] else { return def }
        switch s.lowercased() {
        case "1", "true", "yes", "on": return true
        case "0", "false", "no", "off": return false
        default: throw bad(name, "'\(s)' is not true or false")
        }
    }
}

extension String {
    func trimmingCharacters() -> Substring { Substring(self).trimmingSpaces() }
}
