import Metrics
import PubSub
import Reactor
import RedisBridge

/// The parts of one event loop, each with one owner: its resources, limits and auth, its
/// counters, the run backend, the artifact service and (first loop, with Redis) the cluster
/// presence. Connections reach them through it; the loop's prepare hook runs the fan-out.
final class LoopContext: PrepareHook {
    let loop: EventLoop
    unowned let server: RunwireServer
    let index: Int
    let resources: LoopResources
    let limits: Limits
    let auth: Auth
    let http: HTTPCounters
    let ws: WebSocketCounters
    let events: EventCounters
    /// Where `seq` is assigned and history served (chosen once, at start-up).
    let backend: RunBackend
    /// The backend's registry (what the loop fans out on every iteration). A strong `let`:
    /// Swift borrows it without reference counting.
    let registry: RunRegistry
    /// Whether the backend has work before each fan-out (Redis, the loop bus); the embedded
    /// backend has none, and the loop then skips the call.
    private let backendFansIn: Bool
    /// Artifact endpoints' state on this loop (set by the server before the loop runs).
    var artifacts: ArtifactService?
    /// With `REDIS_URL`, on the first loop: this instance in the cluster registry.
    var presence: ClusterPresence?
    /// Set by shutdown: the loop stops once every socket is closed or the grace has passed.
    var stopWhenIdleAfter: Double?
    /// The first loop's history bytes and run count (the loops' replicas share their events:
    /// counted once), kept current before each sleep.
    private let historyBytes: Gauge, runCount: Gauge
    private var registryVersion = -1

    init(loop: EventLoop, server: RunwireServer, config: Config, index: Int, metrics: MetricsRegistry,
         backend: (EventCounters) -> RunBackend) {
        self.loop = loop
        self.server = server
        self.index = index
        resources = LoopResources(config: config)
        limits = Limits(config)
        auth = Auth(config)
        http = HTTPCounters(metrics)
        ws = WebSocketCounters(metrics, loop: index)
        events = EventCounters(metrics)
        self.backend = backend(events)
        registry = self.backend.registry
        backendFansIn = self.backend.hasWorkBeforeFanOut
        historyBytes = index == 0 ? metrics.gauge("runwire_history_bytes", help: "Bytes of run history held (the loops' replicas share their events: counted once).") : Gauge()
        runCount = index == 0 ? metrics.gauge("runwire_runs", help: "Runs held in memory.") : Gauge()
        super.init()
        loop.prepareHook = self
    }

    deinit {
        loop.prepareHook = nil
    }


    override func beforeFlush() {
        if backendFansIn { backend.beforeFanOut() } // commands of this iteration go out, other loops' events come in
        let delivered = registry.fanOut()
        if delivered > 0 { events.deliveries.add(delivered) }
        if registry.version != registryVersion { refreshRunGauges(registry) }
        if let end = stopWhenIdleAfter { stopIfIdle(before: end) }
    }

    /// Shutdown: the loop ends once no socket is open, no upload or compression runs and Redis
    /// has answered what was sent (the cluster leave included) — or when the grace is over.
    @inline(never)
    private func stopIfIdle(before end: Double) {
        let idle = loop.socketCount == 0 && artifacts?.busy != true && presence?.link.hasPendingCommands != true
        if idle || loop.now >= end { loop.stop() }
    }

    @inline(never)
    private func refreshRunGauges(_ registry: RunRegistry) {
        registryVersion = registry.version
        historyBytes.set(registry.totalBytes)
        runCount.set(registry.runs.count)
    }

    /// Takes a freshly accepted socket.
    func accept(_ fd: Int32) {
        let c = HTTPConnection(fd: fd, ctx: self)
        http.connections.add(1)
        c.start()
    }
}
