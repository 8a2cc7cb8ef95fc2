import Artifacts
import Metrics
import Reactor
import RedisBridge

/// When the retention cleaner runs, and (with Redis) the lock that lets one instance at a time
/// run it: `SET runwire:cleanup:lock <token> NX PX <ttl>` to take it, a compare-and-delete
/// script to give it back, so an instance never releases a lock that expired and was taken by
/// another. A pass stops taking batches at half the lock's lifetime, so it never outlives it.
///
/// The lock goes through the loop's own `RedisLink` (the hub's command connection), which has
/// authenticated and selected the database before it reports ready; while it is not ready a
/// pass is skipped, and the next interval tries again.
final class CleanerSchedule: @unchecked Sendable { // confined to the loop's thread
    static let lockKey = "runwire:cleanup:lock"
    static let lockTTL = 300.0
    static let releaseScript = RedisScript("if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end")

    private unowned let service: ArtifactService
    private let cleaner: RetentionCleaner
    private let interval: Double
    /// The lock's Redis (nil: no Redis, every pass runs).
    private let redis: RedisLink?
    private var next: Double
    private var running = false
    /// Passes run by this instance, passes skipped because another holds the lock, deletions.
    private let runs: Counter, skipped: Counter, deleted: Counter

    init(service: ArtifactService, config: Config, redis: RedisLink?, metrics m: MetricsRegistry) {
        runs = m.counter("runwire_cleanup_runs_total", help: "Retention passes this instance ran.")
        skipped = m.counter("runwire_cleanup_skipped_total", help: "Passes skipped because another instance held the cleanup lock.")
        deleted = m.counter("runwire_cleanup_deleted_total", help: "Artifacts this instance deleted for age.")
        self.service = service
        cleaner = RetentionCleaner(store: service.store, retentionDays: config.artifactRetentionDays)
        interval = config.cleanupIntervalHours * 3600
        self.redis = redis
        next = service.loop.now + 1 // first pass right after start-up, then every interval
    }

    func tick(now: Double) {
        guard now >= next, !running else { return }
        next = now + interval
        guard let redis else { running = true; pass(token: nil, started: now); return }
        guard redis.commandReady else { return unavailable(redis.problem) }
        running = true
        let token = Hex.random(bytes: 16)
        redis.send(["SET", Self.lockKey, token, "NX", "PX", "\(Int(Self.lockTTL * 1000))"]) { [self] reply in
            switch reply {
            case .status("OK"):
                service.logger.info("cleanup lock acquired", metadata: ["key": "\(Self.lockKey)"])
                pass(token: token, started: service.loop.now)
            case .null:
                skipped.add()
                service.logger.info("cleanup skipped: another instance holds the lock", metadata: ["key": "\(Self.lockKey)"])
                running = false
            default:
                running = false
                unavailable("\(reply)")
            }
        }
    }

    /// Redis could not be asked for the lock: no pass this interval (it is not counted as skipped).
    private func unavailable(_ why: String) {
        service.logger.warning("cleanup: Redis unavailable; skipping this pass", metadata: ["reason": "\(why)"])
    }

    /// Runs batches on the worker pool, each going on where the last stopped, until none are
    /// left (or half the lock's lifetime passed).
    private func pass(token: String?, started: Double, from cursor: String? = nil, deletedSoFar: Int = 0) {
        let cleaner = self.cleaner
        service.disk.submit(on: service.loop, { cleaner.runBatch(from: cursor) }) { [self] result in
            deleted.add(result.deleted)
            let thisPass = deletedSoFar + result.deleted
            if result.more && service.loop.now - started < Self.lockTTL / 2 && !service.stopping.isSet {
                pass(token: token, started: started, from: result.cursor, deletedSoFar: thisPass)
                return
            }
            runs.add()
            service.logger.info("cleanup pass finished", metadata: ["deletedThisPass": "\(thisPass)", "deletedTotal": "\(deleted.value)"])
            running = false
            if let token, let redis {
                // Not answered when the link is down: the lock then expires by its TTL.
                redis.eval(Self.releaseScript, keys: [Array(Self.lockKey.utf8)], args: [Array(token.utf8)]) { _ in }
            }
        }
    }
}
