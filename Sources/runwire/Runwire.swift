import ArgumentParser
import Logging
import Server
#if canImport(Glibc)
import Glibc
#endif

/// `runwire`: the server's command line. `serve` is the default subcommand.
@main
struct Runwire: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "runwire",
        abstract: "Real-time backbone for test-automation platforms: run events over WebSocket, artifacts, Redis fan-out.",
        subcommands: [Serve.self],
        defaultSubcommand: Serve.self
    )
}

/// Reads the configuration (flags over environment over `.env`), starts the server and runs
/// until SIGTERM/SIGINT. A bad setting exits 2 with one line naming it.
struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the server. Every option can also be set in the environment or in ./.env."
    )

    @Option(name: .customLong("host"), help: ArgumentHelp("Address to listen on. [env HOST, default 127.0.0.1]", valueName: "value"))
    var host: String?
    @Option(name: .customLong("port"), help: ArgumentHelp("Port to listen on (0 picks a free one). [env PORT, default 3001]", valueName: "value"))
    var port: String?
    @Option(name: .customLong("reuse-port"), help: ArgumentHelp("Set SO_REUSEPORT so several processes share the port. [env REUSE_PORT, default false]", valueName: "value"))
    var reusePort: String?
    @Option(name: .customLong("redis-url"), help: ArgumentHelp("redis://[[user]:password@]host:port[/db], or redis+sentinel://[[user]:password@]host:port[,host:port…]/MASTER_NAME[/db]; unset = single-instance embedded mode. [env REDIS_URL, default unset]", valueName: "value"))
    var redisUrl: String?
    @Option(name: .customLong("redis-sentinel-password"), help: ArgumentHelp("The sentinels' own password (redis+sentinel:// only). [env REDIS_SENTINEL_PASSWORD, default unset]", valueName: "value"))
    var redisSentinelPassword: String?
    @Option(name: .customLong("use-redis-websocket"), help: ArgumentHelp("Fan run events out through Redis. [env USE_REDIS_WEBSOCKET, default true with REDIS_URL]", valueName: "value"))
    var useRedisWebsocket: String?
    @Option(name: .customLong("enable-artifact-cleanup"), help: ArgumentHelp("Run the retention cleaner. [env ENABLE_ARTIFACT_CLEANUP, default true]", valueName: "value"))
    var enableArtifactCleanup: String?
    @Option(name: .customLong("artifact-retention-days"), help: ArgumentHelp("Artifacts older than this are deleted. [env ARTIFACT_RETENTION_DAYS, default 30]", valueName: "value"))
    var artifactRetentionDays: String?
    @Option(name: .customLong("cleanup-interval-hours"), help: ArgumentHelp("How often the cleaner runs (fractions allowed). [env CLEANUP_INTERVAL_HOURS, default 24]", valueName: "value"))
    var cleanupIntervalHours: String?
    @Option(name: .customLong("storage-dir"), help: ArgumentHelp("Artifact store directory (may be shared by instances). [env STORAGE_DIR, default ./data]", valueName: "value"))
    var storageDir: String?
    @Option(name: .customLong("public-url"), help: ArgumentHelp("Base of signed download URLs. [env PUBLIC_URL, default http://HOST:PORT]", valueName: "value"))
    var publicUrl: String?
    @Option(name: .customLong("api-keys"), help: ArgumentHelp("Comma-separated keys for publishers and uploaders. [env API_KEYS, default unset]", valueName: "value"))
    var apiKeys: String?
    @Option(name: .customLong("token-secret"), help: ArgumentHelp("HS256 secret for subscriber tokens. [env TOKEN_SECRET, default unset]", valueName: "value"))
    var tokenSecret: String?
    @Option(name: .customLong("url-signing-secret"), help: ArgumentHelp("HMAC-SHA256 secret of signed URLs. [env URL_SIGNING_SECRET, default random per start]", valueName: "value"))
    var urlSigningSecret: String?
    @Option(name: .customLong("url-signing-secret-previous"), help: ArgumentHelp("Comma-separated earlier signing secrets that still verify (rotation); they never sign. [env URL_SIGNING_SECRET_PREVIOUS, default unset]", valueName: "value"))
    var urlSigningSecretPrevious: String?
    @Option(name: .customLong("signed-url-ttl"), help: ArgumentHelp("Seconds a signed download URL stays valid (60-604800). [env SIGNED_URL_TTL, default 3600]", valueName: "value"))
    var signedUrlTtl: String?
    @Option(name: .customLong("max-artifact-bytes"), help: ArgumentHelp("Largest artifact upload in bytes (413 beyond). [env MAX_ARTIFACT_BYTES, default 1073741824]", valueName: "value"))
    var maxArtifactBytes: String?
    @Option(name: .customLong("trace-compression-level"), help: ArgumentHelp("gzip level for traces (1-9). [env TRACE_COMPRESSION_LEVEL, default 9]", valueName: "value"))
    var traceCompressionLevel: String?
    @Option(name: .customLong("compression-threads"), help: ArgumentHelp("Worker threads of the compression pool. [env COMPRESSION_THREADS, default number of cores]", valueName: "value"))
    var compressionThreads: String?
    @Option(name: .customLong("log-level"), help: ArgumentHelp("trace, debug, info, notice, warning, error or critical. [env LOG_LEVEL, default info]", valueName: "value"))
    var logLevel: String?
    @Option(name: .customLong("log-format"), help: ArgumentHelp("text or json. [env LOG_FORMAT, default text]", valueName: "value"))
    var logFormat: String?
    @Option(name: .customLong("max-header-bytes"), help: ArgumentHelp("Largest request head; larger gets 431. [env MAX_HEADER_BYTES, default 16384]", valueName: "value"))
    var maxHeaderBytes: String?
    @Option(name: .customLong("header-timeout"), help: ArgumentHelp("Seconds a client has to send a whole request head (slowloris guard). [env HEADER_TIMEOUT, default 10]", valueName: "value"))
    var headerTimeout: String?
    @Option(name: .customLong("idle-timeout"), help: ArgumentHelp("Seconds an idle keep-alive HTTP connection is kept. [env IDLE_TIMEOUT, default 60]", valueName: "value"))
    var idleTimeout: String?
    @Option(name: .customLong("sweep-interval"), help: ArgumentHelp("Seconds between sweeps of all timeouts (one timer for every socket). [env SWEEP_INTERVAL, default 1]", valueName: "value"))
    var sweepInterval: String?
    @Option(name: .customLong("allowed-origins"), help: ArgumentHelp("Comma-separated Origin values allowed to open WebSockets. [env ALLOWED_ORIGINS, default any]", valueName: "value"))
    var allowedOrigins: String?
    @Option(name: .customLong("ws-max-message-bytes"), help: ArgumentHelp("Largest WebSocket message accepted (close 1009 beyond). [env WS_MAX_MESSAGE_BYTES, default 1048576]", valueName: "value"))
    var wsMaxMessageBytes: String?
    @Option(name: .customLong("ws-ping-interval"), help: ArgumentHelp("Seconds of silence before a WebSocket is pinged; no pong within as long closes it. [env WS_PING_INTERVAL, default 30]", valueName: "value"))
    var wsPingInterval: String?
    @Option(name: .customLong("ws-deflate"), help: ArgumentHelp("Offer permessage-deflate (RFC 7692) to WebSocket clients. [env WS_DEFLATE, default true]", valueName: "value"))
    var wsDeflate: String?
    @Option(name: .customLong("ws-max-queued-bytes"), help: ArgumentHelp("Bytes queued for one slow WebSocket before it is closed with 1013. [env WS_MAX_QUEUED_BYTES, default 1048576]", valueName: "value"))
    var wsMaxQueuedBytes: String?
    @Option(name: .customLong("ws-max-subscriptions"), help: ArgumentHelp("Runs one /api/ws socket may subscribe to. [env WS_MAX_SUBSCRIPTIONS, default 100]", valueName: "value"))
    var wsMaxSubscriptions: String?
    @Option(name: .customLong("event-max-bytes"), help: ArgumentHelp("Largest publish request body (413 beyond). [env EVENT_MAX_BYTES, default 1048576]", valueName: "value"))
    var eventMaxBytes: String?
    @Option(name: .customLong("history-max-events"), help: ArgumentHelp("Events of history kept per run. [env HISTORY_MAX_EVENTS, default 10000]", valueName: "value"))
    var historyMaxEvents: String?
    @Option(name: .customLong("history-max-bytes"), help: ArgumentHelp("History bytes kept across all runs. [env HISTORY_MAX_BYTES, default 268435456]", valueName: "value"))
    var historyMaxBytes: String?
    @Option(name: .customLong("run-idle-timeout"), help: ArgumentHelp("Seconds without events after which a run counts as finished. [env RUN_IDLE_TIMEOUT, default 3600]", valueName: "value"))
    var runIdleTimeout: String?
    @Option(name: .customLong("run-finished-grace"), help: ArgumentHelp("Seconds a finished run's history is kept while nobody watches it. [env RUN_FINISHED_GRACE, default 600]", valueName: "value"))
    var runFinishedGrace: String?
    @Option(name: .customLong("loops"), help: ArgumentHelp("Event loops (threads) sharing the port and one hub; auto = one per core. Embedded mode only. [env LOOPS, default 1]", valueName: "value"))
    var loops: String?
    @Option(name: .customLong("cluster-heartbeat"), help: ArgumentHelp("Seconds between this instance's heartbeats in Redis (it drops out after 3 missed). [env CLUSTER_HEARTBEAT, default 5]", valueName: "value"))
    var clusterHeartbeat: String?
    @Option(name: .customLong("redis-command-timeout"), help: ArgumentHelp("Seconds a Redis command may go unanswered before the connection is dropped and remade. [env REDIS_COMMAND_TIMEOUT, default 5]", valueName: "value"))
    var redisCommandTimeout: String?
    @Flag(name: .customLong("enable-echo"), help: "Serve GET /api/ws/echo, a WebSocket echo for conformance tests. [env ENABLE_ECHO=1]")
    var enableEcho = false
    @Flag(name: .customLong("insecure"), help: "Allow binding a non-loopback address without API_KEYS or TOKEN_SECRET.")
    var insecure = false

    func flagValues() -> [String: String] {
        var flags: [String: String] = [:]
        if let host { flags["HOST"] = host }
        if let port { flags["PORT"] = port }
        if let reusePort { flags["REUSE_PORT"] = reusePort }
        if let redisUrl { flags["REDIS_URL"] = redisUrl }
        if let redisSentinelPassword { flags["REDIS_SENTINEL_PASSWORD"] = redisSentinelPassword }
        if let useRedisWebsocket { flags["USE_REDIS_WEBSOCKET"] = useRedisWebsocket }
        if let enableArtifactCleanup { flags["ENABLE_ARTIFACT_CLEANUP"] = enableArtifactCleanup }
        if let artifactRetentionDays { flags["ARTIFACT_RETENTION_DAYS"] = artifactRetentionDays }
        if let cleanupIntervalHours { flags["CLEANUP_INTERVAL_HOURS"] = cleanupIntervalHours }
        if let storageDir { flags["STORAGE_DIR"] = storageDir }
        if let publicUrl { flags["PUBLIC_URL"] = publicUrl }
        if let apiKeys { flags["API_KEYS"] = apiKeys }
        if let tokenSecret { flags["TOKEN_SECRET"] = tokenSecret }
        if let urlSigningSecret { flags["URL_SIGNING_SECRET"] = urlSigningSecret }
        if let urlSigningSecretPrevious { flags["URL_SIGNING_SECRET_PREVIOUS"] = urlSigningSecretPrevious }
        if let signedUrlTtl { flags["SIGNED_URL_TTL"] = signedUrlTtl }
        if let maxArtifactBytes { flags["MAX_ARTIFACT_BYTES"] = maxArtifactBytes }
        if let traceCompressionLevel { flags["TRACE_COMPRESSION_LEVEL"] = traceCompressionLevel }
        if let compressionThreads { flags["COMPRESSION_THREADS"] = compressionThreads }
        if let logLevel { flags["LOG_LEVEL"] = logLevel }
        if let logFormat { flags["LOG_FORMAT"] = logFormat }
        if let maxHeaderBytes { flags["MAX_HEADER_BYTES"] = maxHeaderBytes }
        if let headerTimeout { flags["HEADER_TIMEOUT"] = headerTimeout }
        if let idleTimeout { flags["IDLE_TIMEOUT"] = idleTimeout }
        if let sweepInterval { flags["SWEEP_INTERVAL"] = sweepInterval }
        if let allowedOrigins { flags["ALLOWED_ORIGINS"] = allowedOrigins }
        if let wsMaxMessageBytes { flags["WS_MAX_MESSAGE_BYTES"] = wsMaxMessageBytes }
        if let wsPingInterval { flags["WS_PING_INTERVAL"] = wsPingInterval }
        if let wsDeflate { flags["WS_DEFLATE"] = wsDeflate }
        if let wsMaxQueuedBytes { flags["WS_MAX_QUEUED_BYTES"] = wsMaxQueuedBytes }
        if let wsMaxSubscriptions { flags["WS_MAX_SUBSCRIPTIONS"] = wsMaxSubscriptions }
        if let eventMaxBytes { flags["EVENT_MAX_BYTES"] = eventMaxBytes }
        if let historyMaxEvents { flags["HISTORY_MAX_EVENTS"] = historyMaxEvents }
        if let historyMaxBytes { flags["HISTORY_MAX_BYTES"] = historyMaxBytes }
        if let runIdleTimeout { flags["RUN_IDLE_TIMEOUT"] = runIdleTimeout }
        if let runFinishedGrace { flags["RUN_FINISHED_GRACE"] = runFinishedGrace }
        if let loops { flags["LOOPS"] = loops }
        if let clusterHeartbeat { flags["CLUSTER_HEARTBEAT"] = clusterHeartbeat }
        if let redisCommandTimeout { flags["REDIS_COMMAND_TIMEOUT"] = redisCommandTimeout }
        if enableEcho { flags["ENABLE_ECHO"] = "true" }
        return flags
    }

    func run() throws {
        signal(SIGXFSZ, SIG_IGN) // a file size limit makes write() fail with EFBIG (507) instead of killing us
        let dotenv = String(contentsOfFile: ".env")
        let config: Config
        switch Config.load(dotenv: dotenv, environment: environmentVariables(), flags: flagValues(), insecure: insecure) {
        case .success(let c): config = c
        case .failure(let e):
            FileHandleStderr.write("runwire: \(e.description)\n")
            throw ExitCode(2)
        }
        RunwireLogHandler.bootstrap(level: config.logLevel, format: config.logFormat)
        let logger = Logger(label: "runwire")
        let server = RunwireServer(config: config, logger: logger)
        do {
            try server.start()
        } catch {
            logger.critical("cannot start", metadata: ["error": "\(error)"])
            throw ExitCode(1)
        }
        server.handleSignals()
        server.run()
    }
}
