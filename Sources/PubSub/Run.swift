/// One test run's event stream: its epoch, sequence counter, bounded history, the events
/// recorded during the current loop iteration, and its subscriptions.
///
/// Confined to one loop thread. `seq` counts 1, 2, 3… without gaps within an epoch; the epoch
/// is created with the run's history, so a client holding another epoch must reload.
public final class Run {
    /// The run id (`[A-Za-z0-9_.-]{1,128}`).
    public let id: String
    /// The id's bytes (embedded in event messages without escaping: the alphabet needs none).
    public let idBytes: [UInt8]
    /// Opaque id of this history (random hex); a client with another epoch gets a gap from 1.
    /// With Redis it comes from Redis (empty until the run's first read there).
    public private(set) var epoch: String
    /// The latest `seq` given out (0 before the first event).
    public private(set) var lastSeq: Int64 = 0
    /// When the run ended (`run.finished` event), or nil.
    public internal(set) var finishedAt: Double?
    /// Last publish or subscribe (seconds), for idle expiry and eviction order.
    public var lastActivity: Double
    /// Events recorded during this loop iteration, not fanned out yet.
    public internal(set) var batch: [Event] = []
    /// Current subscriptions (retained; `Subscription.index` is the position here).
    public private(set) var subscriptions: [Unmanaged<Subscription>] = []

    private var ring: [Event] = []
    private var head = 0
    /// Events currently retained.
    public var historyCount: Int { ring.count }
    /// Bytes the retained history holds.
    public private(set) var historyBytes = 0

    public init(id: String, epoch: String, now: Double) {
        self.id = id
        idBytes = Array(id.utf8)
        self.epoch = epoch
        lastActivity = now
    }

    deinit { for s in subscriptions { s.release() } }

    /// The oldest retained seq (lastSeq + 1 when nothing is retained).
    public var firstRetainedSeq: Int64 { lastSeq - Int64(historyCount) + 1 }

    /// Takes the next sequence number.
    public func nextSeq() -> Int64 {
        lastSeq += 1
        return lastSeq
    }

    /// Appends an event (whose seq must be `lastSeq`) to the history, dropping the oldest
    /// beyond `maxEvents`, and to this iteration's batch; returns the change in retained bytes.
    @discardableResult
    func append(_ event: Event, maxEvents: Int) -> Int {
        precondition(event.seq == lastSeq, "events are appended in seq order")
        var delta = event.memoryBytes
        if ring.count < maxEvents {
            // Not full yet: nothing was dropped, so the ring starts at index 0 and grows in place.
            ring.append(event)
        } else {
            // Full: the newest replaces the oldest.
            delta -= ring[head].memoryBytes
            ring[head] = event
            head = (head + 1) % ring.count
        }
        historyBytes += delta
        batch.append(event)
        return delta
    }

    /// The retained event with `seq`, or nil when it is not (or no longer) in history.
    public func event(seq: Int64) -> Event? {
        guard seq >= firstRetainedSeq, seq <= lastSeq, historyCount > 0 else { return nil }
        return ring[(head + Int(seq - firstRetainedSeq)) % ring.count]
    }

    /// Starts another history (with Redis: Redis lost the run's data, or this is the first
    /// read): the epoch becomes `epoch`, seq restarts from `lastSeq`, history is dropped.
    /// Returns the bytes freed. The batch must have been fanned out.
    @discardableResult
    func restart(epoch: String, lastSeq: Int64) -> Int {
        self.epoch = epoch
        self.lastSeq = lastSeq
        batch.removeAll(keepingCapacity: true)
        return dropHistory()
    }

    /// Drops all history (memory pressure); returns the bytes freed. `seq` and the epoch stay.
    @discardableResult
    public func dropHistory() -> Int {
        let freed = historyBytes
        ring.removeAll()
        head = 0
        historyBytes = 0
        return freed
    }

    // MARK: Subscriptions

    /// Where a new subscriber that last saw `since` (in `epoch`) starts. Resuming (RFC-like
    /// contract of README "Resuming"): with the run's epoch and a `since` that history still
    /// reaches, the replay starts at `since + 1`; a `since` older than history gets a gap up to
    /// the oldest retained event first; another epoch voids what the client holds: a gap from
    /// 1, then all that is retained. Without `since` the subscriber starts live.
    public func resume(since: Int64?, epoch clientEpoch: String?) -> Resume {
        let first = firstRetainedSeq
        var from: Int64 = 0
        var gap: (from: Int64, to: Int64)?
        if let clientEpoch, clientEpoch != epoch {
            gap = (1, first - 1)
            from = first
        } else if let since, since < lastSeq {
            if since + 1 < first { gap = (since + 1, first - 1); from = first } else { from = since + 1 }
        }
        return Resume(gap: gap, replayFrom: from <= lastSeq ? from : 0)
    }

    /// Adds a subscription (the run retains it) starting where `resume` said.
    public func add(_ s: Subscription, _ resume: Resume) {
        s.lastSentSeq = lastSeq
        if resume.replayFrom != 0 {
            s.replayNext = resume.replayFrom
            s.lastSentSeq = resume.replayFrom - 1
        }
        s.index = subscriptions.count
        subscriptions.append(.passRetained(s))
    }

    /// Removes a subscription in O(1) (the last one takes its place).
    public func remove(_ s: Subscription) {
        let i = s.index
        guard i >= 0, i < subscriptions.count, subscriptions[i].toOpaque() == Unmanaged.passUnretained(s).toOpaque() else { return }
        let last = subscriptions.removeLast()
        if i < subscriptions.count {
            subscriptions[i] = last
            last._withUnsafeGuaranteedRef { $0.index = i }
        }
        s.index = -1
        Unmanaged.passUnretained(s).release()
    }

    /// Hands this iteration's batch to every live subscriber that has not had its events, each
    /// once, and empties the batch; returns the events handed over. Downward: a subscriber
    /// that closes while it is served removes only itself, and the one swapped into its place
    /// was served already.
    func fanOut(serial: UInt64) -> Int {
        let batch = FanOutBatch(events: self.batch, serial: serial)
        let n = batch.events.count
        var delivered = 0
        var i = subscriptions.count - 1
        while i >= 0 {
            if i < subscriptions.count {
                subscriptions[i]._withUnsafeGuaranteedRef { s in
                    guard s.replayNext == 0 else { return } // a replay in progress covers these
                    var first = 0
                    while first < n && batch.events[first].seq <= s.lastSentSeq { first += 1 }
                    guard first < n else { return }
                    s.lastSentSeq = batch.events[n - 1].seq
                    delivered += s.send(batch, from: first)
                }
            }
            i -= 1
        }
        self.batch.removeAll(keepingCapacity: true)
        return delivered
    }

    /// Tells every subscriber that has not had `seq` yet that history skips ahead to `seq`
    /// (from 1 when `newEpoch`: what they hold is void), and moves them past it.
    func announceGap(to seq: Int64, from start: Int64, newEpoch: Bool) {
        for u in subscriptions {
            u._withUnsafeGuaranteedRef { s in
                guard newEpoch || s.lastSentSeq < seq else { return }
                s.sendGap(from: newEpoch ? 1 : max(start, s.lastSentSeq + 1), to: seq)
                s.replayNext = 0
                s.lastSentSeq = seq
            }
        }
    }
}

/// Where a new subscriber starts (`Run.resume`): a gap to announce first, if any, and the
/// first seq to replay (0: nothing to replay, it starts live).
public struct Resume: Sendable {
    public let gap: (from: Int64, to: Int64)?
    public let replayFrom: Int64
}

/// The events a run gained during one loop iteration, handed to each of its subscribers.
/// `serial` differs for every fan-out on a loop, so a transport can prepare its per-batch work
/// (the iovecs of the shared frames) once and reuse it for every subscriber.
public struct FanOutBatch {
    public let events: [Event]
    public let serial: UInt64
}
