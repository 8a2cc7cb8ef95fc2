import Testing
import RedisBridge
@testable import Server

@Suite("Configuration: environment, .env, flags")
struct ConfigTests {
    func load(_ env: [String: String] = [:], dotenv: String? = nil, flags: [String: String] = [:], insecure: Bool = false) -> Result<Config, ConfigError> {
        Config.load(dotenv: dotenv, environment: env, flags: flags, insecure: insecure)
    }

    @Test func defaultsMatchTheContract() throws {
        let c = try load().get()
        #expect(c.host == "127.0.0.1" && c.port == 3001)
        #expect(c.redisURL == nil && !c.useRedisWebSocket)
        #expect(c.enableArtifactCleanup && c.artifactRetentionDays == 30 && c.cleanupIntervalHours == 24)
        #expect(c.storageDir == "./data" && c.publicURL == "http://127.0.0.1:3001")
        #expect(c.apiKeys.isEmpty && c.tokenSecret == nil && c.urlSigningSecret == nil)
        #expect(c.traceCompressionLevel == 9 && c.compressionThreads >= 1)
        #expect(c.maxHeaderBytes == 16384 && c.protectedMode)
    }

    @Test func everyVariableIsRead() throws {
        let c = try load([
            "HOST": "127.0.0.2", "PORT": "4000", "REUSE_PORT": "true", "REDIS_URL": "redis://:pw@127.0.0.1:6380/2",
            "USE_REDIS_WEBSOCKET": "false", "ENABLE_ARTIFACT_CLEANUP": "0", "ARTIFACT_RETENTION_DAYS": "7",
            "CLEANUP_INTERVAL_HOURS": "0.5", "STORAGE_DIR": "/tmp/s", "PUBLIC_URL": "https://runs.example/",
            "API_KEYS": "a, b", "TOKEN_SECRET": "0123456789abcdef", "URL_SIGNING_SECRET": "fedcba9876543210",
            "TRACE_COMPRESSION_LEVEL": "6", "COMPRESSION_THREADS": "3", "LOG_LEVEL": "DEBUG", "LOG_FORMAT": "json",
            "MAX_HEADER_BYTES": "8192", "HEADER_TIMEOUT": "2.5", "IDLE_TIMEOUT": "30", "SWEEP_INTERVAL": "0.5",
        ]).get()
        #expect(c.host == "127.0.0.2" && c.port == 4000 && c.reusePort)
        #expect(c.redisURL == RedisEndpoint(host: "127.0.0.1", port: 6380, password: "pw", database: 2))
        #expect(!c.useRedisWebSocket && !c.enableArtifactCleanup && c.artifactRetentionDays == 7)
        #expect(c.cleanupIntervalHours == 0.5 && c.storageDir == "/tmp/s" && c.publicURL == "https://runs.example")
        #expect(c.apiKeys == ["a", "b"] && c.tokenSecret == "0123456789abcdef" && c.urlSigningSecret == "fedcba9876543210")
        #expect(c.traceCompressionLevel == 6 && c.compressionThreads == 3 && c.logLevel == "debug" && c.logFormat == "json")
        #expect(c.maxHeaderBytes == 8192 && c.headerTimeout == 2.5 && c.idleTimeout == 30 && c.sweepInterval == 0.5)
        #expect(!c.protectedMode)
    }

    @Test func redisURLTurnsRedisFanOutOnByDefault() throws {
        let c = try load(["REDIS_URL": "redis://localhost"]).get()
        #expect(c.redisURL?.port == 6379 && c.redisURL?.database == 0 && c.useRedisWebSocket)
    }

    @Test func sentinelURLNamesEverySentinelTheMasterAndTheDataNodesPassword() throws {
        let c = try load(["REDIS_URL": "redis+sentinel://app:pw@10.0.0.1,10.0.0.2:26380,[::1]:26381/orders/3",
                          "REDIS_SENTINEL_PASSWORD": "spw"]).get()
        let s = RedisSentinels(nodes: [RedisNode(host: "10.0.0.1", port: 26379), RedisNode(host: "10.0.0.2", port: 26380),
                                       RedisNode(host: "::1", port: 26381)], masterName: "orders", password: "spw")
        #expect(c.redisURL == RedisEndpoint(host: "", port: 0, password: "pw", database: 3, username: "app", sentinels: s))
        #expect(c.useRedisWebSocket)
        #expect(c.redisURL?.address == "master 'orders' of sentinels 10.0.0.1:26379,10.0.0.2:26380,::1:26381")
        let plain = try load(["REDIS_URL": "redis+sentinel://h/m"]).get()
        #expect(plain.redisURL?.sentinels?.password == nil && plain.redisURL?.database == 0)
    }

    @Test func precedenceIsFlagsThenEnvironmentThenDotenv() throws {
        let dotenv = "PORT=1111\nLOG_LEVEL=debug\nSTORAGE_DIR='/from/dotenv'\n"
        let c = try load(["PORT": "2222", "LOG_LEVEL": "error"], dotenv: dotenv, flags: ["PORT": "3333"]).get()
        #expect(c.port == 3333)
        #expect(c.logLevel == "error")
        #expect(c.storageDir == "/from/dotenv")
    }

    @Test func dotenvSyntax() throws {
        let text = "# c\n\nexport A=1\nB = \"two words\"\nC=x # trailing comment\nD=''\n"
        let pairs = try Config.parseDotenv(text).get()
        #expect(pairs.map { $0.0 } == ["A", "B", "C", "D"])
        #expect(pairs.map { $0.1 } == ["1", "two words", "x", ""])
        #expect((try? Config.parseDotenv("JUSTTEXT\n").get()) == nil)
        if case .failure(let e) = Config.parseDotenv("A=1\nB=\"open\n") { #expect(e.description == "invalid .env: line 2 has an unterminated quote") }
        else { Issue.record("unterminated quote accepted") }
    }

    @Test(arguments: [
        ("PORT", "70000", "invalid PORT: '70000' is not a port number (0-65535)"),
        ("PORT", "", "invalid PORT: '' is not a port number (0-65535)"),
        ("REUSE_PORT", "maybe", "invalid REUSE_PORT: 'maybe' is not true or false"),
        ("REDIS_URL", "http://x", "invalid REDIS_URL: must start with redis:// or redis+sentinel:// (got a URL with another scheme)"),
        ("REDIS_URL", "redis+cluster://h:7000", "invalid REDIS_URL: redis+cluster:// (Redis Cluster) is not supported by this version; use redis:// (one server) or redis+sentinel://"),
        ("REDIS_URL", "redis+sentinel://h:26379", "invalid REDIS_URL: redis+sentinel:// needs the master's name after the hosts (…/MASTER_NAME)"),
        ("REDIS_URL", "redis+sentinel://h:26379,:1/m", "invalid REDIS_URL: has no host"),
        ("REDIS_URL", "redis+sentinel://h:26379,g:0/m", "invalid REDIS_URL: port '0' is not 1-65535"),
        ("REDIS_URL", "redis+sentinel://h/m/x", "invalid REDIS_URL: database 'x' is not a number"),
        ("REDIS_URL", "redis+sentinel://h/m/1/2", "invalid REDIS_URL: has more path than /MASTER_NAME/db"),
        ("REDIS_URL", "redis://h/1/2", "invalid REDIS_URL: has more path than /db"),
        ("REDIS_URL", "redis://h:99999", "invalid REDIS_URL: port '99999' is not 1-65535"),
        ("REDIS_URL", "redis://h/x", "invalid REDIS_URL: database 'x' is not a number"),
        ("ARTIFACT_RETENTION_DAYS", "-1", "invalid ARTIFACT_RETENTION_DAYS: '-1' is not a number of days (1-36500)"),
        ("CLEANUP_INTERVAL_HOURS", "nan", "invalid CLEANUP_INTERVAL_HOURS: 'nan' is not hours (0.001-8760)"),
        ("PUBLIC_URL", "ftp://x", "invalid PUBLIC_URL: 'ftp://x' is not an http:// or https:// URL"),
        ("API_KEYS", "a,,b", "invalid API_KEYS: has an empty key between commas"),
        ("TOKEN_SECRET", "short", "invalid TOKEN_SECRET: is shorter than 16 bytes"),
        ("TRACE_COMPRESSION_LEVEL", "10", "invalid TRACE_COMPRESSION_LEVEL: '10' is not a gzip level (1-9)"),
        ("COMPRESSION_THREADS", "0", "invalid COMPRESSION_THREADS: '0' is not a thread count (1-256)"),
        ("LOG_LEVEL", "loud", "invalid LOG_LEVEL: 'loud' is not one of trace, debug, info, notice, warning, error, critical"),
        ("LOG_FORMAT", "xml", "invalid LOG_FORMAT: 'xml' is not text or json"),
        ("HOST", "no such host.invalid", "invalid HOST: 'no such host.invalid' is not an address or resolvable name"),
        ("USE_REDIS_WEBSOCKET", "true", "invalid USE_REDIS_WEBSOCKET: is true but REDIS_URL is not set"),
    ])
    func badValueNamesTheSetting(name: String, value: String, message: String) {
        switch load([name: value]) {
        case .success: Issue.record("\(name)=\(value) was accepted")
        case .failure(let e):
            #expect(e.setting == name)
            #expect(e.description == message)
        }
    }

    @Test func redisPasswordIsNeverInTheError() {
        if case .failure(let e) = load(["REDIS_URL": "redis://:hunter2@h:0"]) { #expect(!e.description.contains("hunter2")) }
        else { Issue.record("port 0 accepted") }
    }

    @Test func protectedModeRefusesNonLoopbackWithoutCredentials() {
        if case .failure(let e) = load(["HOST": "0.0.0.0"]) {
            #expect(e.setting == "HOST" && e.description.contains("protected mode") && e.description.contains("--insecure"))
        } else { Issue.record("0.0.0.0 accepted in protected mode") }
        #expect((try? load(["HOST": "0.0.0.0"], insecure: true).get()) != nil)
        #expect((try? load(["HOST": "0.0.0.0", "API_KEYS": "k"]).get()) != nil)
        #expect((try? load(["HOST": "0.0.0.0", "TOKEN_SECRET": "0123456789abcdef"]).get()) != nil)
        #expect((try? load(["HOST": "localhost"]).get()) != nil)
        #expect((try? load(["HOST": "::1"]).get()) != nil)
    }
}
