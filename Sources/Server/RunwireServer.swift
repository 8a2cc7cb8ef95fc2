import Logging
import Metrics
import Reactor
import RedisBridge
#if canImport(Glibc)
import Glibc
#endif

/// A Runwire server: its event loops (one by default; `LOOPS` of them sharing the port with
/// `SO_REUSEPORT` and one hub through a `LoopBus`), the worker pool, readiness probes and the
/// stats every instance reports. `start()` binds; `run()` blocks until `stop()`.
public final class RunwireServer: @unchecked Sendable {
    public let config: Config
    /// `api_<pid>_<epoch ms>`, as `/api/ws/stats` reports it.
    public let serverId: String
    let startTime: Double
    let logger: Logger
    /// The first loop: signals, probes and the cluster link live here.
    let loop: EventLoop
    let loops: [EventLoop]
    let pool: WorkerPool
    private var listeners: [Listener?] = []
    private var contexts: [LoopContext] = []
    /// Every metric of this process (`/metrics`); each part registers its own.
    let metrics = MetricsRegistry()
    private var context: LoopContext { contexts[0] }
    private var threads: [pthread_t] = []
    /// What every loop's artifact service shares: signer, compression pool, stop flag.
    private var artifactShared: ArtifactShared?
    private var signals: [SignalWatcher] = []
    private var lastProbe = 0.0
    /// The bound port (after `start()`).
    public private(set) var port = 0

    public init(config: Config, logger: Logger) {
        self.config = config
        self.logger = logger
        startTime = Timestamp.now()
        serverId = "api_\(getpid())_\(Int(startTime * 1000))"
        loops = (0..<config.loops).map { _ in EventLoop(sweepInterval: config.sweepInterval) }
        loop = loops[0]
        pool = WorkerPool(threads: config.compressionThreads)
    }

    /// Binds the listener and starts the probes. Throws `ListenError` when the address is taken.
    public func start() throws {
        let bus = loops.count > 1 ? LoopBus(loops: loops.count, forgetAfter: config.runIdleTimeout + config.runFinishedGrace) : nil
        let shared = ArtifactShared(config: config, logger: logger)
        artifactShared = shared
        // With REDIS_URL: one link (LOOPS is 1 then), for the runs, the cluster registry and
        // the cleaner's lock.
        let link = config.redisURL.map {
            RedisLink(loop: loop, endpoint: $0, pubsub: config.useRedisWebSocket, connectTimeout: 2, commandTimeout: config.redisCommandTimeout)
        }
        var redisRuns: RedisRuns?
        for (i, l) in loops.enumerated() {
            // The one place that chooses where seq is assigned.
            let ctx = LoopContext(loop: l, server: self, config: config, index: i, metrics: metrics) { [self] events -> RunBackend in
                if let link, config.useRedisWebSocket {
                    let runs = RedisRuns(config: config, link: link, loop: l, logger: logger, events: events, metrics: metrics)
                    redisRuns = runs
                    return runs
                }
                if let bus { return LoopBusRuns(config: config, events: events, bus: bus, index: i, loop: l) }
                return LocalRuns(config: config, events: events)
            }
            // One artifact service per loop (its counters are loop-confined); the first loop
            // also runs the retention cleaner and resumes pending compressions.
            ctx.artifacts = ArtifactService(config: config, shared: shared, loop: l, disk: pool, logger: logger, runsCleaner: i == 0,
                                            redis: link, metrics: metrics)
            contexts.append(ctx)
            // Every loop listens on the same port (SO_REUSEPORT): the kernel spreads the accepts.
            let listener = try Listener(loop: l, host: config.host, port: i == 0 ? config.port : port,
                                        reusePort: config.reusePort || loops.count > 1) { fd in ctx.accept(fd) }
            if i == 0 { port = listener.port }
            listeners.append(listener)
            l.onSweep = { [unowned self] now in self.sweep(now, loop: i) }
        }
        if let link { startRedis(link, runs: redisRuns) }
        registerServerMetrics()
        probe()
        context.artifacts?.startUp()
        logger.info("listening", metadata: [
            "address": "\(config.host):\(port)", "serverId": "\(serverId)", "mode": "\(config.redisURL != nil ? "redis" : "embedded (no Redis)")",
            "backend": "\(loop.backend == 4 ? "epoll" : "libev backend \(loop.backend)")", "loops": "\(loops.count)",
        ])
        if let u = config.redisURL {
            logger.info("redis", metadata: ["address": "\(u.address)", "database": "\(u.database)",
                                           "fanOut": "\(config.useRedisWebSocket ? "through Redis" : "local (USE_REDIS_WEBSOCKET=false)")"])
        }
        if config.protectedMode {
            logger.notice("protected mode: neither API_KEYS nor TOKEN_SECRET is set, so only loopback addresses may be bound")
        }
    }

    /// The Redis side of the first loop: the cluster presence and (with events through Redis)
    /// the run backend hear of the link's events; then it connects.
    private func startRedis(_ link: RedisLink, runs: RedisRuns?) {
        let ctx = context
        let presence = ClusterPresence(link: link, loop: loop, logger: logger, serverId: serverId, heartbeat: config.clusterHeartbeat,
                                       metrics: metrics, ownConnections: { [unowned self] in webSocketCount },
                                       activeRunIds: { [unowned ctx] in ctx.registry.activeRunIds })
        ctx.presence = presence
        // Weak and unowned: the link belongs to them (no cycle through its callbacks).
        link.onCommandUp = { [unowned presence, weak runs] in presence.commandUp(); runs?.commandUp() }
        link.onPubSubUp = { [unowned presence, weak runs] in presence.pubsubUp(); runs?.pubsubUp() }
        link.onDown = { [unowned presence, weak runs] pubsub, reason in presence.down(pubsub: pubsub, reason); runs?.down(pubsub: pubsub) }
        link.onMessage = { [weak runs] channel, payload in runs?.message(channel, payload) }
        link.onSubscribed = { [weak runs] channel in runs?.subscribed(channel) }
        link.start()
    }

    /// What the server itself exports (the parts register their own).
    private func registerServerMetrics() {
        let counted = UncheckedBox(listeners.compactMap { $0 })
        metrics.computed("runwire_accept_exhausted_total", help: "Accepts refused because no descriptor was free.", kind: .counter) {
            Double(counted.value.reduce(0) { $0 + $1.exhaustedCount })
        }
        let start = startTime
        metrics.computed("runwire_uptime_seconds", help: "Seconds since start.", kind: .gauge) {
            ((Timestamp.now() - start) * 100).rounded() / 100
        }
    }

    /// Open WebSockets of every loop.
    private var webSocketCount: Int { Int(metrics.value("runwire_ws_connections") ?? 0) }

    /// Stops on SIGTERM/SIGINT (through the loop, so the handler runs on the loop's thread).
    public func handleSignals() {
        for sig in [SIGTERM, SIGINT] {
            signals.append(SignalWatcher(loop: loop, signal: sig) { [unowned self] signum in
                logger.info("signal received", metadata: ["signal": "\(signum == SIGTERM ? "SIGTERM" : "SIGINT")"])
                shutdown()
            })
        }
    }

    /// Runs the first loop on the calling thread (the others on threads of their own) until
    /// `stop()`.
    public func run() {
        for l in loops.dropFirst() {
            var tid = pthread_t()
            let box = Unmanaged.passRetained(l).toOpaque()
            pthread_create(&tid, nil, { arg in
                Unmanaged<EventLoop>.fromOpaque(arg!).takeRetainedValue().run()
                return nil
            }, box)
            threads.append(tid)
        }
        loop.run()
        for t in threads { pthread_join(t, nil) }
        threads.removeAll()
        for w in signals { w.stop() }
        signals.removeAll()
        artifactShared?.shutDown()
        pool.shutdown()
        logger.info("stopped", metadata: ["uptime": "\(uptime(Timestamp.now()))"])
    }

    /// Stops accepting, closes every connection and ends `run()`. Safe from any thread.
    public func stop() {
        loop.post { [self] in self.shutdown() }
    }

    /// Stops accepting, says goodbye to every connection (WebSockets get close 1001, HTTP
    /// connections finish what they are writing; uploads and file downloads in progress and
    /// trace compressions are let finish), and ends the loop once all are done or after a
    /// grace period of 5 s (then running compressions stop, left pending for the next start).
    private func shutdown() {
        guard listeners.first! != nil else { return }
        logger.info("stopping", metadata: ["connections": "\(loop.socketCount)"])
        context.presence?.leave { } // after the commands already sent: their answers come first
        for i in loops.indices.dropFirst() { loops[i].post { [self] in self.shutdown(loop: i) } }
        shutdown(loop: 0)
    }

    /// Stops one loop: its listener closes, its sockets are told, it ends when they are gone.
    private func shutdown(loop i: Int) {
        let l = loops[i]
        listeners[i]?.close()
        listeners[i] = nil
        let graceEnd = l.now + 5
        l.forEachSocket { s in
            if let ws = s as? WebSocketConnection { ws.shutDown() }
            else if let h = s as? HTTPConnection { h.shutDown() }
            else if s.output.isEmpty { s.close() } else { s.finish() }
        }
        contexts[i].stopWhenIdleAfter = graceEnd
        let stopping = artifactShared?.stopping
        l.onSweep = { now in
            if now >= graceEnd {
                stopping?.set() // running compressions stop, left pending for the next start
                l.forEachSocket { $0.close() }
                l.stop()
            }
        }
    }

    // MARK: Readiness

    private func sweep(_ now: Double, loop i: Int) {
        let ctx = contexts[i]
        ctx.backend.sweep(now: now)
        guard i == 0 else { return }
        if now - lastProbe >= 5 { probe() }
        ctx.presence?.sweep(now: now)
        ctx.artifacts?.sweep(now: now)
    }

    /// Checks the store on the worker pool (never on the loop) and records the result.
    private func probe() {
        lastProbe = loop.now
        let dir = config.storageDir
        pool.submit(on: loop, { StoreProbe.check(dir) }) { [self] result in
            let wasReady = self.storeProblem == nil
            self.storeProblem = result
            if wasReady && result != nil { self.logger.error("not ready", metadata: ["reason": "store: \(result!)"]) }
        }
    }

    /// nil while the store works, else why not (from the last probe).
    private var storeProblem: String? = "starting"

    /// Whether every configured dependency works, and if not why: the store (probed every
    /// 5 s) and, with REDIS_URL, both Redis connections answering.
    var readiness: (Bool, String) {
        var problems: [String] = []
        if let p = storeProblem { problems.append("store: \(p)") }
        if let p = context.presence?.problem { problems.append("redis: \(p)") }
        return (problems.isEmpty, problems.joined(separator: "; "))
    }

    // MARK: Stats

    func uptime(_ now: Double) -> String {
        let centis = Int(((now - startTime) * 100).rounded())
        let frac = centis % 100
        return "\(centis / 100).\(frac < 10 ? "0" : "")\(frac)"
    }

    func statsJSON(now: Double) -> String {
        let active = context.presence?.clusterActiveRuns ?? context.backend.activeRunCount
        return "{\"serverId\":\"\(serverId)\",\"localConnections\":\(webSocketCount),\"redisConnections\":\(context.presence?.redisConnections ?? 0),\"activeRuns\":\(active),\"uptime\":\(uptime(now))}"
    }
}

/// Hands a value to a `@Sendable` closure that only reads thread-safe parts of it (atomics).
struct UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
