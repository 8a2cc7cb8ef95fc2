import CShim
import Logging
import Reactor
#if canImport(Glibc)
import Glibc
#endif

/// A Runwire server: one event loop with its listener, the worker pool, readiness probes and
/// the stats every instance reports. `start()` binds; `run()` blocks until `stop()`.
public final class RunwireServer: @unchecked Sendable {
    public let config: Config
    /// `api_<pid>_<epoch ms>`, as `/api/ws/stats` reports it.
    public let serverId: String
    let startTime: Double
    let logger: Logger
    let loop: EventLoop
    let pool: WorkerPool
    private var listener: Listener?
    private var context: LoopContext!
    private var signals: [OpaquePointer] = []
    private var lastProbe = 0.0
    /// The bound port (after `start()`).
    public private(set) var port = 0

    public init(config: Config, logger: Logger) {
        self.config = config
        self.logger = logger
        startTime = Timestamp.now()
        serverId = "api_\(getpid())_\(Int(startTime * 1000))"
        loop = EventLoop(sweepInterval: config.sweepInterval)
        pool = WorkerPool(threads: config.compressionThreads)
    }

    /// Binds the listener and starts the probes. Throws `ListenError` when the address is taken.
    public func start() throws {
        context = LoopContext(loop: loop, server: self, config: config)
        let ctx = context!
        listener = try Listener(loop: loop, host: config.host, port: config.port, reusePort: config.reusePort) { fd in
            ctx.accept(fd)
        }
        port = listener!.port
        loop.onSweep = { [unowned self] now in self.sweep(now) }
        probe()
        var mode = "embedded (no Redis)"
        if config.redisURL != nil { mode = "redis" }
        logger.info("listening", metadata: [
            "address": "\(config.host):\(port)", "serverId": "\(serverId)", "mode": "\(mode)",
            "backend": "\(loop.backend == 4 ? "epoll" : "libev backend \(loop.backend)")",
        ])
        if let u = config.redisURL {
            logger.info("redis", metadata: ["address": "\(u.host):\(u.port)", "database": "\(u.database)",
                                           "fanOut": "\(config.useRedisWebSocket ? "through Redis" : "local (USE_REDIS_WEBSOCKET=false)")"])
        }
        if config.protectedMode {
            logger.notice("protected mode: neither API_KEYS nor TOKEN_SECRET is set, so only loopback addresses may be bound")
        }
    }

    /// Stops on SIGTERM/SIGINT (through the loop, so the handler runs on the loop's thread).
    public func handleSignals() {
        for sig in [SIGTERM, SIGINT] {
            let w = CShim_signal_new(RunwireServer.signalCallback, Unmanaged.passUnretained(self).toOpaque(), sig)!
            CShim_signal_start(loop.raw, w)
            signals.append(w)
        }
    }

    /// Runs the loop on the calling thread until `stop()`.
    public func run() {
        loop.run()
        for w in signals { CShim_signal_free(loop.raw, w) }
        signals.removeAll()
        pool.shutdown()
        logger.info("stopped", metadata: ["uptime": "\(uptime(Timestamp.now()))"])
    }

    /// Stops accepting, closes every connection and ends `run()`. Safe from any thread.
    public func stop() {
        loop.post { [self] in self.shutdown() }
    }

    /// Stops accepting, says goodbye to every connection (WebSockets get close 1001, HTTP
    /// connections finish what they are writing), and ends the loop once all are closed or
    /// after a grace period of 5 s.
    private func shutdown() {
        guard listener != nil else { return }
        logger.info("stopping", metadata: ["connections": "\(loop.socketCount)"])
        listener?.close()
        listener = nil
        context.redis?.leave { }
        let graceEnd = loop.now + 5
        loop.forEachSocket { s in
            if let ws = s as? WebSocketConnection { ws.close(with: 1001, reason: "server shutting down") }
            else if s.output.isEmpty { s.close() } else { s.finish() }
        }
        context.stopWhenIdleAfter = graceEnd
        loop.onSweep = { [unowned self] now in
            if now >= graceEnd { self.loop.forEachSocket { $0.close() }; self.loop.stop() }
        }
    }

    private static let signalCallback: CShim_cb = { ctx, signum, _ in
        Unmanaged<RunwireServer>.fromOpaque(ctx!)._withUnsafeGuaranteedRef { s in
            s.logger.info("signal received", metadata: ["signal": "\(signum == SIGTERM ? "SIGTERM" : "SIGINT")"])
            s.shutdown()
        }
    }

    // MARK: Readiness

    private func sweep(_ now: Double) {
        if now - lastProbe >= 5 { probe() }
        context.hub.registry.sweep(now: now)
        context.redis?.sweep(now: now)
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
        if let r = context.redis {
            let stalled = r.link.stalledFor(now: loop.now)
            if !r.link.isUp { problems.append("redis: \(r.link.problem)") }
            else if stalled > 2 { problems.append("redis: no answer for \(Int(stalled)) s") }
        }
        return (problems.isEmpty, problems.joined(separator: "; "))
    }

    // MARK: Stats

    func uptime(_ now: Double) -> String {
        let centis = Int(((now - startTime) * 100).rounded())
        let frac = centis % 100
        return "\(centis / 100).\(frac < 10 ? "0" : "")\(frac)"
    }

    func statsJSON(now: Double) -> String {
        "{\"serverId\":\"\(serverId)\",\"localConnections\":\(context.webSockets),\"redisConnections\":\(context.redis?.redisConnections ?? 0),\"activeRuns\":\(context.redis?.clusterActiveRuns ?? context.hub.registry.activeRunCount),\"uptime\":\(uptime(now))}"
    }

    func metricsText(now: Double) -> String {
        let c = context!
        return """
        # HELP runwire_http_connections Open HTTP connections.
        # TYPE runwire_http_connections gauge
        runwire_http_connections \(c.connections)
        # HELP runwire_http_requests_total Requests answered.
        # TYPE runwire_http_requests_total counter
        runwire_http_requests_total \(c.requests)
        # HELP runwire_http_errors_total Requests answered with an error status.
        # TYPE runwire_http_errors_total counter
        runwire_http_errors_total \(c.errors)
        # HELP runwire_accept_exhausted_total Accepts refused because no descriptor was free.
        # TYPE runwire_accept_exhausted_total counter
        runwire_accept_exhausted_total \(listener?.exhaustedCount ?? 0)
        # HELP runwire_ws_connections Open WebSocket connections.
        # TYPE runwire_ws_connections gauge
        runwire_ws_connections \(c.webSockets)
        # HELP runwire_events_published_total Events published on this instance.
        # TYPE runwire_events_published_total counter
        runwire_events_published_total \(c.hub.published)
        # HELP runwire_event_deliveries_total Event frames handed to subscriber sockets.
        # TYPE runwire_event_deliveries_total counter
        runwire_event_deliveries_total \(c.hub.deliveries)
        # HELP runwire_ws_slow_consumers_closed_total Subscribers closed with 1013 for falling behind.
        # TYPE runwire_ws_slow_consumers_closed_total counter
        runwire_ws_slow_consumers_closed_total \(c.hub.slowConsumersClosed)
        # HELP runwire_events_relayed_total Events received from Redis for local subscribers.
        # TYPE runwire_events_relayed_total counter
        runwire_events_relayed_total \(c.hub.relayed)
        # HELP runwire_redis_up Whether the Redis connections are up (1) or not (0; 1 without Redis).
        # TYPE runwire_redis_up gauge
        runwire_redis_up \(c.redis.map { $0.link.isUp ? 1 : 0 } ?? 1)
        # HELP runwire_redis_catch_up_events_total Events read from Redis history to fill what pub/sub missed or to sync a run.
        # TYPE runwire_redis_catch_up_events_total counter
        runwire_redis_catch_up_events_total \(c.redis?.catchUpEvents ?? 0)
        # HELP runwire_redis_epoch_changes_total Runs whose epoch changed in Redis (its data was lost).
        # TYPE runwire_redis_epoch_changes_total counter
        runwire_redis_epoch_changes_total \(c.redis?.epochChanges ?? 0)
        # HELP runwire_history_bytes Bytes of run history held.
        # TYPE runwire_history_bytes gauge
        runwire_history_bytes \(c.hub.registry.totalBytes)
        # HELP runwire_runs Runs held in memory.
        # TYPE runwire_runs gauge
        runwire_runs \(c.hub.registry.runs.count)
        # HELP runwire_uptime_seconds Seconds since start.
        # TYPE runwire_uptime_seconds gauge
        runwire_uptime_seconds \(uptime(now))

        """
    }
}
