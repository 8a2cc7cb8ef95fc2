import Logging
import Reactor
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
        for (i, l) in loops.enumerated() {
            let ctx = LoopContext(loop: l, server: self, config: config, bus: bus, index: i)
            // One artifact service per loop (its counters are loop-confined); the first loop
            // also runs the retention cleaner and resumes pending compressions.
            ctx.artifacts = ArtifactService(config: config, shared: shared, loop: l, disk: pool, logger: logger, runsCleaner: i == 0,
                                            redis: ctx.redis?.link)
            contexts.append(ctx)
            // Every loop listens on the same port (SO_REUSEPORT): the kernel spreads the accepts.
            let listener = try Listener(loop: l, host: config.host, port: i == 0 ? config.port : port,
                                        reusePort: config.reusePort || loops.count > 1) { fd in ctx.accept(fd) }
            if i == 0 { port = listener.port }
            listeners.append(listener)
            l.onSweep = { [unowned self] now in self.sweep(now, loop: i) }
        }
        probe()
        context.artifacts?.startUp()
        var mode = "embedded (no Redis)"
        if config.redisURL != nil { mode = "redis" }
        logger.info("listening", metadata: [
            "address": "\(config.host):\(port)", "serverId": "\(serverId)", "mode": "\(mode)",
            "backend": "\(loop.backend == 4 ? "epoll" : "libev backend \(loop.backend)")", "loops": "\(loops.count)",
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
        context.redis?.leave { }
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
            if let ws = s as? WebSocketConnection { ws.close(with: 1001, reason: "server shutting down") }
            else if let h = s as? HTTPConnection, h.busy != 0 { h.closeWhenAnswered = true }
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
        ctx.hub.registry.sweep(now: now)
        if let bus = ctx.bus {
            var active = Set<String>()
            for (id, r) in ctx.hub.registry.runs where !r.subscriptions.isEmpty { active.insert(id) }
            bus.reportActive(i, active)
        }
        guard i == 0 else { return }
        if now - lastProbe >= 5 { probe() }
        ctx.bus?.sweep(now: now)
        ctx.redis?.sweep(now: now)
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

    private func artifactMetrics() -> String {
        let all = contexts.compactMap(\.artifacts)
        guard let a = all.first else { return "" }
        func sum(_ f: (ArtifactService) -> Int) -> Int { all.reduce(0) { $0 + f($1) } }
        var outcomes: [String: Int] = [:]
        for s in all { outcomes.merge(s.compressionOutcomes, uniquingKeysWith: +) }
        var lines = """
        # HELP runwire_artifact_uploads_total Artifacts stored by this instance.
        # TYPE runwire_artifact_uploads_total counter
        runwire_artifact_uploads_total \(sum { $0.uploadsTotal })
        # HELP runwire_artifact_upload_bytes_total Bytes of artifacts stored by this instance.
        # TYPE runwire_artifact_upload_bytes_total counter
        runwire_artifact_upload_bytes_total \(all.reduce(Int64(0)) { $0 + $1.uploadBytesTotal })
        # HELP runwire_artifact_uploads_in_flight Uploads being received.
        # TYPE runwire_artifact_uploads_in_flight gauge
        runwire_artifact_uploads_in_flight \(sum { $0.uploadsInFlight })
        # HELP runwire_artifact_download_disk_reads_total Download windows (up to 4 MiB) read in on the worker pool because they were not in the page cache.
        # TYPE runwire_artifact_download_disk_reads_total counter
        runwire_artifact_download_disk_reads_total \(sum { $0.downloadDiskReads })
        # HELP runwire_trace_compressions_in_flight Trace compressions queued or running.
        # TYPE runwire_trace_compressions_in_flight gauge
        runwire_trace_compressions_in_flight \(sum { $0.compressionsInFlight })
        # HELP runwire_trace_compressions_total Trace compressions finished, by outcome.
        # TYPE runwire_trace_compressions_total counter

        """
        for k in outcomes.keys.sorted() { lines += "runwire_trace_compressions_total{outcome=\"\(k)\"} \(outcomes[k]!)\n" }
        if let c = a.cleaner {
            lines += """
            # HELP runwire_cleanup_runs_total Retention passes this instance ran.
            # TYPE runwire_cleanup_runs_total counter
            runwire_cleanup_runs_total \(c.runs)
            # HELP runwire_cleanup_skipped_total Passes skipped because another instance held the cleanup lock.
            # TYPE runwire_cleanup_skipped_total counter
            runwire_cleanup_skipped_total \(c.skipped)
            # HELP runwire_cleanup_deleted_total Artifacts this instance deleted for age.
            # TYPE runwire_cleanup_deleted_total counter
            runwire_cleanup_deleted_total \(c.deleted)

            """
        }
        return String(lines.dropLast())
    }

    func statsJSON(now: Double) -> String {
        let local = contexts.reduce(0) { $0 + $1.webSockets }
        let active = context.redis?.clusterActiveRuns ?? context.bus?.activeRunCount() ?? context.hub.registry.activeRunCount
        return "{\"serverId\":\"\(serverId)\",\"localConnections\":\(local),\"redisConnections\":\(context.redis?.redisConnections ?? 0),\"activeRuns\":\(active),\"uptime\":\(uptime(now))}"
    }

    func metricsText(now: Double) -> String {
        let c = context
        func sum(_ f: (LoopContext) -> Int) -> Int { contexts.reduce(0) { $0 + f($1) } }
        return """
        # HELP runwire_http_connections Open HTTP connections.
        # TYPE runwire_http_connections gauge
        runwire_http_connections \(sum { $0.connections })
        # HELP runwire_http_requests_total Requests answered.
        # TYPE runwire_http_requests_total counter
        runwire_http_requests_total \(sum { $0.requests })
        # HELP runwire_http_errors_total Requests answered with an error status.
        # TYPE runwire_http_errors_total counter
        runwire_http_errors_total \(sum { $0.errors })
        # HELP runwire_accept_exhausted_total Accepts refused because no descriptor was free.
        # TYPE runwire_accept_exhausted_total counter
        runwire_accept_exhausted_total \(listeners.reduce(0) { $0 + ($1?.exhaustedCount ?? 0) })
        # HELP runwire_ws_connections Open WebSocket connections.
        # TYPE runwire_ws_connections gauge
        runwire_ws_connections \(sum { $0.webSockets })
        # HELP runwire_loop_ws_connections Open WebSocket connections per event loop.
        # TYPE runwire_loop_ws_connections gauge
        \(contexts.map { "runwire_loop_ws_connections{loop=\"\($0.loopIndex)\"} \($0.webSockets)" }.joined(separator: "\n"))
        # HELP runwire_events_published_total Events published on this instance.
        # TYPE runwire_events_published_total counter
        runwire_events_published_total \(sum { $0.hub.published })
        # HELP runwire_event_deliveries_total Event frames handed to subscriber sockets.
        # TYPE runwire_event_deliveries_total counter
        runwire_event_deliveries_total \(sum { $0.hub.deliveries })
        # HELP runwire_ws_slow_consumers_closed_total Subscribers closed with 1013 for falling behind.
        # TYPE runwire_ws_slow_consumers_closed_total counter
        runwire_ws_slow_consumers_closed_total \(sum { $0.hub.slowConsumersClosed })
        # HELP runwire_events_relayed_total Events received from Redis (or from the other loops of this process).
        # TYPE runwire_events_relayed_total counter
        runwire_events_relayed_total \(sum { $0.hub.relayed })
        # HELP runwire_redis_up Whether the Redis connections are up (1) or not (0; 1 without Redis).
        # TYPE runwire_redis_up gauge
        runwire_redis_up \(c.redis.map { $0.link.isUp ? 1 : 0 } ?? 1)
        # HELP runwire_redis_catch_up_events_total Events read from Redis history to fill what pub/sub missed or to sync a run.
        # TYPE runwire_redis_catch_up_events_total counter
        runwire_redis_catch_up_events_total \(c.redis?.catchUpEvents ?? 0)
        # HELP runwire_redis_epoch_changes_total Runs whose epoch changed in Redis (its data was lost).
        # TYPE runwire_redis_epoch_changes_total counter
        runwire_redis_epoch_changes_total \(c.redis?.epochChanges ?? 0)
        # HELP runwire_history_bytes Bytes of run history held (the loops' replicas share their frames: counted once).
        # TYPE runwire_history_bytes gauge
        runwire_history_bytes \(c.hub.registry.totalBytes)
        # HELP runwire_runs Runs held in memory.
        # TYPE runwire_runs gauge
        runwire_runs \(c.hub.registry.runs.count)
        \(artifactMetrics())
        # HELP runwire_uptime_seconds Seconds since start.
        # TYPE runwire_uptime_seconds gauge
        runwire_uptime_seconds \(uptime(now))

        """
    }
}
