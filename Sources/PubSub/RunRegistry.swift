/// Every run this loop knows: lookup by id, history budgets and expiry.
///
/// Bounds: `maxEventsPerRun` events of history per run; `maxTotalBytes` across runs (the least
/// recently active runs lose their history first); a run ends with a `run.finished` event or
/// after `idleTimeout` without activity, and is forgotten `finishedGrace` seconds later once
/// nobody is subscribed.
public final class RunRegistry {
    /// Runs by id.
    public private(set) var runs: [String: Run] = [:]
    public let maxEventsPerRun: Int
    public let maxTotalBytes: Int
    public let idleTimeout: Double
    public let finishedGrace: Double
    /// History bytes held by all runs.
    public private(set) var totalBytes = 0
    /// Runs whose history was dropped for the byte budget (a metric).
    public private(set) var evictions = 0
    private let makeEpoch: () -> String
    /// With Redis the registry is a cache of runs others own: eviction and expiry drop history
    /// but never forget a run (the Redis side forgets runs nobody here watches).
    public var mirrorsRemote = false

    public init(maxEventsPerRun: Int, maxTotalBytes: Int, idleTimeout: Double, finishedGrace: Double,
                makeEpoch: @escaping () -> String) {
        self.maxEventsPerRun = maxEventsPerRun
        self.maxTotalBytes = maxTotalBytes
        self.idleTimeout = idleTimeout
        self.finishedGrace = finishedGrace
        self.makeEpoch = makeEpoch
    }

    /// Where new runs take their epoch and latest seq when another owner numbers them (the
    /// loops of one process share one; with Redis a mirror starts empty and learns both from
    /// its first read); nil: a new run starts a new epoch at 0 here.
    public var origin: ((String) -> (epoch: String, lastSeq: Int64))?

    /// The run with `id`; created (with a new epoch, or as `origin` says) when missing and
    /// `create` is true.
    public func run(_ id: String, create: Bool, now: Double) -> Run? {
        if let r = runs[id] { return r }
        guard create else { return nil }
        if let origin {
            let (epoch, last) = origin(id)
            return adopt(id, epoch: epoch, lastSeq: last, now: now)
        }
        let r = Run(id: id, epoch: makeEpoch(), now: now)
        runs[id] = r
        return r
    }

    /// Creates the run `id` (missing here) in `epoch`, its next event being `lastSeq + 1`.
    public func adopt(_ id: String, epoch: String, lastSeq: Int64, now: Double) -> Run {
        let r = Run(id: id, epoch: epoch, now: now)
        r.restart(epoch: epoch, lastSeq: lastSeq)
        runs[id] = r
        return r
    }

    /// Records a published frame in `run`'s history and keeps the byte budget.
    public func record(_ frame: EventFrame, in run: Run, now: Double, finishes: Bool) {
        totalBytes += run.append(frame, maxEvents: maxEventsPerRun)
        run.lastActivity = now
        if finishes && run.finishedAt == nil { run.finishedAt = now }
        if totalBytes > maxTotalBytes { evict(keeping: run) }
    }

    /// Runs with at least one subscriber.
    public var activeRunCount: Int {
        var n = 0
        for (_, r) in runs where !r.subscriptions.isEmpty { n += 1 }
        return n
    }

    /// Drops the history of the least recently active runs until the budget holds again
    /// (`keeping` last: the run just published to).
    private func evict(keeping current: Run) {
        while totalBytes > maxTotalBytes {
            var victim: Run?
            for (_, r) in runs where r.historyBytes > 0 && r !== current {
                if victim == nil || r.lastActivity < victim!.lastActivity { victim = r }
            }
            guard let v = victim ?? (current.historyBytes > 0 ? current : nil) else { return }
            totalBytes -= v.dropHistory()
            evictions += 1
            if v.subscriptions.isEmpty && v !== current && !mirrorsRemote { runs[v.id] = nil }
        }
    }

    /// Restarts `run`'s history (see `Run.restart`), keeping the byte count.
    public func restart(_ run: Run, epoch: String, lastSeq: Int64) {
        totalBytes -= run.restart(epoch: epoch, lastSeq: lastSeq)
    }

    /// Forgets the run with `id` and its history.
    public func forget(_ id: String) {
        if let r = runs.removeValue(forKey: id) { totalBytes -= r.historyBytes }
    }

    /// Ends idle runs and forgets ended runs past their grace period (when nobody watches).
    public func sweep(now: Double) {
        guard !mirrorsRemote else { return }
        var gone: [String] = []
        for (id, r) in runs {
            if r.finishedAt == nil && now - r.lastActivity >= idleTimeout { r.finishedAt = now }
            if let f = r.finishedAt, now - f >= finishedGrace, r.subscriptions.isEmpty, r.batch.isEmpty {
                gone.append(id)
            }
        }
        for id in gone {
            totalBytes -= runs[id]!.historyBytes
            runs[id] = nil
        }
    }
}
