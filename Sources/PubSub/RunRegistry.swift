/// Every run this loop knows: lookup by id, recording events, the fan-out of each
/// iteration's events to subscribers, history budgets and expiry.
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
    /// Changes whenever runs come or go or history bytes change (metrics are refreshed then).
    @inlinable public var version: Int { versionValue }
    @usableFromInline var versionValue = 0
    private let makeEpoch: () -> String
    /// With Redis the registry is a cache of runs others own: eviction and expiry drop history
    /// but never forget a run (the Redis side forgets runs nobody here watches).
    public var mirrorsRemote = false
    /// Runs with events recorded this iteration (each once).
    @usableFromInline var dirty: [Run] = []
    private var fanOutSerial: UInt64 = 0
    /// Events handed to subscribers early (a batch fanned out before a history restart),
    /// reported by the next `fanOut()`.
    @usableFromInline var deliveredEarly = 0

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
        versionValue &+= 1
        return r
    }

    /// Creates the run `id` (missing here) in `epoch`, its next event being `lastSeq + 1`.
    public func adopt(_ id: String, epoch: String, lastSeq: Int64, now: Double) -> Run {
        let r = Run(id: id, epoch: epoch, now: now)
        r.restart(epoch: epoch, lastSeq: lastSeq)
        runs[id] = r
        versionValue &+= 1
        return r
    }

    // MARK: Recording

    /// Records the next event of `run` (its seq must be `run.lastSeq + 1`): history, this
    /// iteration's fan-out, activity, the end of the run, and the byte budget.
    public func accept(_ event: Event, into run: Run, now: Double, finishes: Bool) {
        _ = run.nextSeq()
        if run.batch.isEmpty { dirty.append(run) }
        totalBytes += run.append(event, maxEvents: maxEventsPerRun)
        versionValue &+= 1
        run.lastActivity = now
        if finishes && run.finishedAt == nil { run.finishedAt = now }
        if totalBytes > maxTotalBytes { evict(keeping: run) }
    }

    /// Takes an event numbered by an owner elsewhere (another loop of this process) into the
    /// run `id` of `epoch`: creates the run when missing, starts over when the epoch changed,
    /// drops what it holds already and skips (with a gap) what it cannot have. Returns
    /// whether the event was recorded.
    @discardableResult
    public func apply(_ event: Event, runId id: String, epoch: String, finishes: Bool, now: Double) -> Bool {
        let seq = event.seq
        guard let run = runs[id] else {
            accept(event, into: adopt(id, epoch: epoch, lastSeq: seq - 1, now: now), now: now, finishes: finishes)
            return true
        }
        if run.epoch != epoch {
            newEpoch(run, epoch, lastSeq: seq - 1)
        } else if seq <= run.lastSeq {
            return false
        } else if seq > run.lastSeq + 1 {
            skip(run, to: seq - 1)
        }
        accept(event, into: run, now: now, finishes: finishes)
        return true
    }

    /// The run's history starts over in `epoch` (its owner lost it, or forgot the run): every
    /// subscriber gets a gap from 1 and reloads; events from `lastSeq + 1` follow.
    public func newEpoch(_ run: Run, _ epoch: String, lastSeq: Int64) {
        let known = !run.epoch.isEmpty
        restart(run, epoch: epoch, lastSeq: lastSeq)
        if known { run.announceGap(to: lastSeq, from: 1, newEpoch: true) }
    }

    /// History no longer holds the seqs up to `seq`: subscribers that lack them get a gap, the
    /// run moves on to `seq`.
    public func skip(_ run: Run, to seq: Int64) {
        let from = run.lastSeq + 1
        restart(run, epoch: run.epoch, lastSeq: seq)
        run.announceGap(to: seq, from: from, newEpoch: false)
    }

    /// Restarts the run's history; the events it took this iteration go out first (they come
    /// before the gap or epoch change that follows).
    private func restart(_ run: Run, epoch: String, lastSeq: Int64) {
        if !run.batch.isEmpty { fanOut(run) }
        totalBytes -= run.restart(epoch: epoch, lastSeq: lastSeq)
        versionValue &+= 1
    }

    // MARK: Fan-out

    /// Hands every run's events of this iteration to its subscribers (the loop calls it just
    /// before it sleeps); returns how many events went to subscribers.
    @inlinable @inline(__always)
    public func fanOut() -> Int {
        if dirty.isEmpty && deliveredEarly == 0 { return 0 } // most iterations publish nothing
        return fanOutDirty()
    }

    @usableFromInline
    func fanOutDirty() -> Int {
        var delivered = deliveredEarly
        deliveredEarly = 0
        guard !dirty.isEmpty else { return delivered }
        for run in dirty where !run.batch.isEmpty { // empty: sent early by `restart`
            delivered += fanOutBatch(run)
        }
        dirty.removeAll(keepingCapacity: true)
        return delivered
    }

    private func fanOut(_ run: Run) { deliveredEarly += fanOutBatch(run) }

    private func fanOutBatch(_ run: Run) -> Int {
        fanOutSerial &+= 1
        return run.fanOut(serial: fanOutSerial)
    }

    // MARK: Budgets and expiry

    /// Runs with at least one subscriber.
    public var activeRunCount: Int {
        var n = 0
        for (_, r) in runs where !r.subscriptions.isEmpty { n += 1 }
        return n
    }

    /// Ids of the runs with at least one subscriber.
    public var activeRunIds: [String] {
        var ids: [String] = []
        for (id, r) in runs where !r.subscriptions.isEmpty { ids.append(id) }
        return ids
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

    /// Forgets the run with `id` and its history.
    public func forget(_ id: String) {
        if let r = runs.removeValue(forKey: id) { totalBytes -= r.historyBytes }
        versionValue &+= 1
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
        if !gone.isEmpty { versionValue &+= 1 }
    }
}
