import Artifacts
import Reactor
import RedisBridge

/// When the retention cleaner runs, and (with Redis) the lock that lets one instance at a time
/// run it: `SET runwire:cleanup:lock <token> NX PX <ttl>` to take it, a compare-and-delete
/// script to give it back, so an instance never releases a lock that expired and was taken by
/// another. A pass stops taking batches at half the lock's lifetime, so it never outlives it.
final class CleanerSchedule: @unchecked Sendable { // confined to the loop's thread
    static let lockKey = "runwire:cleanup:lock"
    static let lockTTL = 300.0
    static let releaseScript = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"

    private unowned let service: ArtifactService
    private let cleaner: RetentionCleaner
    private let interval: Double
    private let redisURL: RedisURL?
    private var redis: RedisConnection?
    private var next: Double
    private var running = false
    /// Passes run by this instance, passes skipped because another holds the lock, deletions.
    private(set) var runs = 0, skipped = 0, deleted = 0

    init(service: ArtifactService, config: Config) {
        self.service = service
        cleaner = RetentionCleaner(store: service.store, retentionDays: config.artifactRetentionDays)
        interval = config.cleanupIntervalHours * 3600
        redisURL = config.redisURL
        next = service.loop.now + 1 // first pass right after start-up, then every interval
    }

    func tick(now: Double) {
        guard now >= next, !running else { return }
        next = now + interval
        running = true
        guard let url = redisURL else { pass(token: nil, started: now); return }
        withRedis(url) { [self] conn in
            guard let conn else { running = false; return }
            let token = Hex.encode((0..<16).map { _ in UInt8.random(in: 0...255) })
            conn.send(["SET", Self.lockKey, token, "NX", "PX", "\(Int(Self.lockTTL * 1000))"]) { [self] reply in
                if reply == .status("OK") {
                    service.logger.info("cleanup lock acquired", metadata: ["key": "\(Self.lockKey)"])
                    pass(token: token, started: service.loop.now)
                } else {
                    skipped += 1
                    service.logger.info("cleanup skipped: another instance holds the lock", metadata: ["reply": "\(reply)"])
                    running = false
                }
            }
        }
    }

    /// Runs batches on the worker pool until none are left (or half the lock's lifetime passed).
    private func pass(token: String?, started: Double) {
        let cleaner = self.cleaner
        service.disk.submit(on: service.loop, { cleaner.runBatch() }) { [self] result in
            deleted += result.deleted
            if result.more && service.loop.now - started < Self.lockTTL / 2 && !service.stopping.isSet {
                pass(token: token, started: started)
                return
            }
            runs += 1
            service.logger.info("cleanup pass finished", metadata: ["deletedThisPass": "\(result.deleted)", "deletedTotal": "\(deleted)"])
            running = false
            if let token, let conn = redis, conn.isConnected {
                conn.send(["EVAL", Self.releaseScript, "1", Self.lockKey, token]) { _ in }
            }
        }
    }

    /// Calls `body` with a connected Redis connection (made on first use, again after a loss),
    /// or nil when Redis cannot be reached (the pass is skipped; the next interval retries).
    private func withRedis(_ url: RedisURL, _ body: @escaping (RedisConnection?) -> Void) {
        if let r = redis, r.isConnected { body(r); return }
        let conn = RedisConnection(loop: service.loop, host: url.host, port: url.port) { [self] result in
            guard case .success = result else {
                service.logger.warning("cleanup: cannot reach Redis; skipping this pass", metadata: ["url": "\(url.host):\(url.port)"])
                redis = nil
                body(nil)
                return
            }
            var setup: [[String]] = []
            if let p = url.password { setup.append(url.username.map { ["AUTH", $0, p] } ?? ["AUTH", p]) }
            if url.database != 0 { setup.append(["SELECT", "\(url.database)"]) }
            guard let conn = redis else { body(nil); return }
            func step(_ i: Int) {
                if i == setup.count { body(conn); return }
                conn.send(setup[i]) { reply in
                    if case .error(let e) = reply { self.service.logger.warning("cleanup: Redis refused \(setup[i][0])", metadata: ["error": "\(e)"]); body(nil); return }
                    step(i + 1)
                }
            }
            step(0)
        }
        conn.onDisconnect = { [weak self] _ in self?.redis = nil }
        redis = conn
    }

    func close() {
        redis?.close()
        redis = nil
    }
}
