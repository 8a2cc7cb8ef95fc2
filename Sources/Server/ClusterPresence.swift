import Logging
import Metrics
import Reactor
import RedisBridge

/// This instance in the cluster registry in Redis (with `REDIS_URL`, whether or not events
/// go through Redis): every `CLUSTER_HEARTBEAT` seconds it writes its WebSocket count and the
/// runs it has subscribers for, with a TTL of three heartbeats, and reads the totals of the
/// live instances (`/api/ws/stats`). It also keeps the Redis link healthy (`check` on every
/// sweep) and says so in `runwire_redis_up` and readiness.
final class ClusterPresence {
    let link: RedisLink
    private let loop: EventLoop
    private let logger: Logger
    private let serverId: String
    private let heartbeatInterval: Double
    /// This instance's WebSocket count and the runs it has subscribers for, now.
    private let ownConnections: () -> Int
    private let activeRunIds: () -> [String]
    private var lastHeartbeat = -1e9
    /// Cluster totals from the last heartbeat.
    private(set) var clusterConnections = 0
    private(set) var clusterActiveRuns = 0
    private var ownConnectionsAtHeartbeat = 0
    private let up: Gauge

    init(link: RedisLink, loop: EventLoop, logger: Logger, serverId: String, heartbeat: Double, metrics: MetricsRegistry,
         ownConnections: @escaping () -> Int, activeRunIds: @escaping () -> [String]) {
        self.link = link
        self.loop = loop
        self.logger = logger
        self.serverId = serverId
        heartbeatInterval = heartbeat
        self.ownConnections = ownConnections
        self.activeRunIds = activeRunIds
        up = metrics.gauge("runwire_redis_up", help: "Whether the Redis connections are up (1) or not (0).")
    }

    func commandUp() {
        logger.info("redis command connection up", metadata: ["redis": "\(link.server.map(\.description) ?? link.endpoint.address)"])
        for s in [RedisScripts.heartbeat, RedisScripts.leave] { link.send(["SCRIPT", "LOAD", s.source]) { _ in } }
        up.set(link.isUp ? 1 : 0)
        heartbeat()
    }

    func pubsubUp() { up.set(link.isUp ? 1 : 0) }

    func down(pubsub: Bool, _ reason: String) {
        up.set(0)
        logger.warning("redis unavailable", metadata: ["connection": "\(pubsub ? "pub/sub" : "commands")", "reason": "\(reason)"])
    }

    /// Once per sweep: link health and the heartbeat.
    func sweep(now: Double) {
        link.check(now: now)
        up.set(link.isUp ? 1 : 0)
        if now - lastHeartbeat >= heartbeatInterval { heartbeat() }
    }

    private func heartbeat() {
        lastHeartbeat = loop.now
        guard link.commandReady else { return }
        let own = ownConnections()
        var args: [[UInt8]] = [Array(serverId.utf8), Array(String(own).utf8), Array(String(Int(heartbeatInterval * 3000)).utf8)]
        for id in activeRunIds() { args.append(Array(id.utf8)) }
        link.eval(RedisScripts.heartbeat, keys: [Array("rw:instances".utf8)], args: args) { [weak self] reply in
            guard let self, case .array(let p) = reply, p.count == 2, case .integer(let total) = p[0],
                  case .integer(let active) = p[1] else { return }
            self.clusterConnections = Int(total)
            self.clusterActiveRuns = Int(active)
            self.ownConnectionsAtHeartbeat = own
        }
    }

    /// WebSocket connections of all live instances (this one counted as of now).
    var redisConnections: Int { max(0, clusterConnections - ownConnectionsAtHeartbeat + ownConnections()) }

    /// Why Redis does not serve this instance now, or nil (readiness).
    var problem: String? {
        let stalled = link.stalledFor(now: loop.now)
        if !link.isUp { return link.problem }
        if stalled > 2 { return "no answer for \(Int(stalled)) s" }
        return nil
    }

    /// Removes this instance from the cluster registry (graceful stop), then closes the link.
    /// Commands sent before (publishes still in flight) are answered first: one connection.
    func leave(then finished: @escaping () -> Void) {
        guard link.commandReady else { link.stop(); finished(); return }
        link.eval(RedisScripts.leave, keys: [Array("rw:instances".utf8)], args: [Array(serverId.utf8)]) { [weak self] _ in
            self?.link.stop()
            finished()
        }
    }
}
