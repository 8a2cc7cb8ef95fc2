/// One configurable setting: its environment name, its flag, its default and what it means.
public struct Setting: Sendable {
    public let name: String
    public let flag: String
    public let defaultText: String
    public let help: String
}

extension Config {
    /// Every setting Runwire reads, in the order `--help` and README list them.
    public static let settings: [Setting] = [
        Setting(name: "HOST", flag: "host", defaultText: "127.0.0.1", help: "Address to listen on."),
        Setting(name: "PORT", flag: "port", defaultText: "3001", help: "Port to listen on (0 picks a free one)."),
        Setting(name: "REUSE_PORT", flag: "reuse-port", defaultText: "false", help: "Set SO_REUSEPORT so several processes share the port."),
        Setting(name: "REDIS_URL", flag: "redis-url", defaultText: "unset",
                help: "redis://[[user]:password@]host:port[/db], or redis+sentinel://[[user]:password@]host:port[,host:port…]/MASTER_NAME[/db]; unset = single-instance embedded mode."),
        Setting(name: "REDIS_SENTINEL_PASSWORD", flag: "redis-sentinel-password", defaultText: "unset", help: "The sentinels' own password (redis+sentinel:// only)."),
        Setting(name: "USE_REDIS_WEBSOCKET", flag: "use-redis-websocket", defaultText: "true with REDIS_URL", help: "Fan run events out through Redis."),
        Setting(name: "ENABLE_ARTIFACT_CLEANUP", flag: "enable-artifact-cleanup", defaultText: "true", help: "Run the retention cleaner."),
        Setting(name: "ARTIFACT_RETENTION_DAYS", flag: "artifact-retention-days", defaultText: "30", help: "Artifacts older than this are deleted."),
        Setting(name: "CLEANUP_INTERVAL_HOURS", flag: "cleanup-interval-hours", defaultText: "24", help: "How often the cleaner runs (fractions allowed)."),
        Setting(name: "STORAGE_DIR", flag: "storage-dir", defaultText: "./data", help: "Artifact store directory (may be shared by instances)."),
        Setting(name: "PUBLIC_URL", flag: "public-url", defaultText: "http://HOST:PORT", help: "Base of signed download URLs."),
        Setting(name: "API_KEYS", flag: "api-keys", defaultText: "unset", help: "Comma-separated keys for publishers and uploaders."),
        Setting(name: "TOKEN_SECRET", flag: "token-secret", defaultText: "unset", help: "HS256 secret for subscriber tokens."),
        Setting(name: "URL_SIGNING_SECRET", flag: "url-signing-secret", defaultText: "random per start", help: "HMAC-SHA256 secret of signed URLs."),
        Setting(name: "URL_SIGNING_SECRET_PREVIOUS", flag: "url-signing-secret-previous", defaultText: "unset", help: "Comma-separated earlier signing secrets that still verify (rotation); they never sign."),
        Setting(name: "SIGNED_URL_TTL", flag: "signed-url-ttl", defaultText: "3600", help: "Seconds a signed download URL stays valid (60-604800)."),
        Setting(name: "MAX_ARTIFACT_BYTES", flag: "max-artifact-bytes", defaultText: "1073741824", help: "Largest artifact upload in bytes (413 beyond)."),
        Setting(name: "TRACE_COMPRESSION_LEVEL", flag: "trace-compression-level", defaultText: "9", help: "gzip level for traces (1-9)."),
        Setting(name: "COMPRESSION_THREADS", flag: "compression-threads", defaultText: "number of cores", help: "Worker threads of the compression pool."),
        Setting(name: "LOG_LEVEL", flag: "log-level", defaultText: "info", help: "trace, debug, info, notice, warning, error or critical."),
        Setting(name: "LOG_FORMAT", flag: "log-format", defaultText: "text", help: "text or json."),
        Setting(name: "MAX_HEADER_BYTES", flag: "max-header-bytes", defaultText: "16384", help: "Largest request head; larger gets 431."),
        Setting(name: "HEADER_TIMEOUT", flag: "header-timeout", defaultText: "10", help: "Seconds a client has to send a whole request head (slowloris guard)."),
        Setting(name: "IDLE_TIMEOUT", flag: "idle-timeout", defaultText: "60", help: "Seconds an idle keep-alive HTTP connection is kept."),
        Setting(name: "ENABLE_ECHO", flag: "enable-echo", defaultText: "false", help: "Serve GET /api/ws/echo (WebSocket echo, for conformance tests)."),
        Setting(name: "ALLOWED_ORIGINS", flag: "allowed-origins", defaultText: "any", help: "Comma-separated Origin values allowed to open WebSockets."),
        Setting(name: "WS_MAX_MESSAGE_BYTES", flag: "ws-max-message-bytes", defaultText: "1048576", help: "Largest WebSocket message accepted (close 1009 beyond)."),
        Setting(name: "WS_PING_INTERVAL", flag: "ws-ping-interval", defaultText: "30", help: "Seconds of silence before a WebSocket is pinged; no pong within as long closes it."),
        Setting(name: "WS_DEFLATE", flag: "ws-deflate", defaultText: "true", help: "Offer permessage-deflate (RFC 7692) to WebSocket clients."),
        Setting(name: "WS_MAX_QUEUED_BYTES", flag: "ws-max-queued-bytes", defaultText: "1048576", help: "Bytes queued for one slow WebSocket before it is closed with 1013."),
        Setting(name: "WS_MAX_SUBSCRIPTIONS", flag: "ws-max-subscriptions", defaultText: "100", help: "Runs one /api/ws socket may subscribe to."),
        Setting(name: "EVENT_MAX_BYTES", flag: "event-max-bytes", defaultText: "1048576", help: "Largest publish request body (413 beyond)."),
        Setting(name: "HISTORY_MAX_EVENTS", flag: "history-max-events", defaultText: "10000", help: "Events of history kept per run."),
        Setting(name: "HISTORY_MAX_BYTES", flag: "history-max-bytes", defaultText: "268435456", help: "History bytes kept across all runs (least recently active runs lose theirs first)."),
        Setting(name: "RUN_IDLE_TIMEOUT", flag: "run-idle-timeout", defaultText: "3600", help: "Seconds without events after which a run counts as finished."),
        Setting(name: "RUN_FINISHED_GRACE", flag: "run-finished-grace", defaultText: "600", help: "Seconds a finished run's history is kept (while nobody watches it)."),
        Setting(name: "LOOPS", flag: "loops", defaultText: "1", help: "Event loops (threads) sharing the port and one hub; auto = one per core. Embedded mode only."),
        Setting(name: "CLUSTER_HEARTBEAT", flag: "cluster-heartbeat", defaultText: "5", help: "Seconds between this instance's heartbeats in Redis (it drops out after 3 missed)."),
        Setting(name: "REDIS_COMMAND_TIMEOUT", flag: "redis-command-timeout", defaultText: "5", help: "Seconds a Redis command may go unanswered before the connection is dropped and remade."),
        Setting(name: "SWEEP_INTERVAL", flag: "sweep-interval", defaultText: "1", help: "Seconds between sweeps of all timeouts (one timer for every socket)."),
    ]

    /// Builds a configuration from `.env` text, the environment and flags (flags win).
    /// `flags` and `environment` are keyed by setting name (`PORT`); `insecure` is the flag.
    public static func load(dotenv: String?, environment: [String: String], flags: [String: String],
                            insecure: Bool = false) -> Result<Config, ConfigError> {
        var values: [String: String] = [:]
        if let dotenv {
            switch parseDotenv(dotenv) {
            case .success(let pairs): for (k, v) in pairs { values[k] = v }
            case .failure(let e): return .failure(e)
            }
        }
        for s in settings { if let v = environment[s.name] { values[s.name] = v } }
        for (k, v) in flags { values[k] = v }
        do {
            return .success(try build(values, insecure: insecure))
        } catch let e as ConfigError {
            return .failure(e)
        } catch {
            return .failure(ConfigError(setting: "config", message: "\(error)"))
        }
    }

    /// Parses `KEY=VALUE` lines (`#` comments, `export ` prefix, single or double quotes).
    public static func parseDotenv(_ text: String) -> Result<[(String, String)], ConfigError> {
        var out: [(String, String)] = []
        var lineNumber = 0
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            var line = raw.trimmingSpaces()
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("export ") { line = line.dropFirst(7).trimmingSpaces() }
            guard let eq = line.firstIndex(of: "=") else {
                return .failure(ConfigError(setting: ".env", message: "line \(lineNumber) is not KEY=VALUE"))
            }
            let key = String(line[..<eq].trimmingSpaces())
            var value = line[line.index(after: eq)...].trimmingSpaces()
            guard !key.isEmpty, key.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else {
                return .failure(ConfigError(setting: ".env", message: "line \(lineNumber) has an invalid name '\(key)'"))
            }
            if let q = value.first, q == "\"" || q == "'" {
                guard value.count >= 2, value.last == q else {
                    return .failure(ConfigError(setting: ".env", message: "line \(lineNumber) has an unterminated quote"))
                }
                value = value.dropFirst().dropLast()
            } else if let hash = value.indices.first(where: { i in
                value[i] == "#" && i > value.startIndex && value[value.index(before: i)] == " "
            }) {
                value = value[..<hash].trimmingSpaces() // `KEY=value # comment`
            }
            out.append((key, String(value)))
        }
        return .success(out)
    }
}

extension Substring {
    func trimmingSpaces() -> Substring {
        var s = self
        while let f = s.first, f == " " || f == "\t" || f == "\r" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\r" { s = s.dropLast() }
        return s
    }
}
