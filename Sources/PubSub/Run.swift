/// One test run's event stream: its epoch, sequence counter, bounded history, the frames
/// published during the current loop iteration, and its subscriptions.
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
    /// Frames published during this loop iteration, not yet fanned out.
    public var batch: [EventFrame] = []
    /// Current subscriptions (retained; `Subscription.index` is the position here).
    public private(set) var subscriptions: [Unmanaged<Subscription>] = []

    private var ring: [EventFrame] = []
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

    /// Appends a frame (whose seq must be `lastSeq`) to the history, dropping the oldest beyond
    /// `maxEvents`; returns the change in retained bytes.
    @discardableResult
    public func append(_ frame: EventFrame, maxEvents: Int) -> Int {
        precondition(frame.seq == lastSeq, "frames are appended in seq order")
        var delta = frame.memoryBytes
        if ring.count < maxEvents {
            // Not full yet: nothing was dropped, so the ring starts at index 0 and grows in place.
            ring.append(frame)
        } else {
            // Full: the newest replaces the oldest.
            delta -= ring[head].memoryBytes
            ring[head] = frame
            head = (head + 1) % ring.count
        }
        historyBytes += delta
        batch.append(frame)
        return delta
    }

    /// The retained frame with `seq`, or nil when it is not (or no longer) in history.
    public func frame(seq: Int64) -> EventFrame? {
        guard seq >= firstRetainedSeq, seq <= lastSeq, historyCount > 0 else { return nil }
        return ring[(head + Int(seq - firstRetainedSeq)) % ring.count]
    }

    /// Starts another history (with Redis: Redis lost the run's data, or this is the first
    /// read): the epoch becomes `epoch`, seq restarts from `lastSeq`, history is dropped.
    /// Returns the bytes freed.
    @discardableResult
    public func restart(epoch: String, lastSeq: Int64) -> Int {
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

    /// Adds a subscription (the run retains it).
    public func add(_ s: Subscription) {
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
}

/// One socket's interest in one run. `owner` is the socket (unretained: the socket removes
/// its subscriptions before it goes away).
public final class Subscription {
    /// The run subscribed to.
    public let run: Run
    /// The subscribing connection.
    public let owner: Unmanaged<AnyObject>
    /// Position in `run.subscriptions` (-1 when removed).
    public var index = -1
    /// The last seq delivered (or queued) to the owner; later frames only are sent.
    public var lastSentSeq: Int64
    /// While replaying history: the next seq to replay (0 when live).
    public var replayNext: Int64 = 0
    /// Whether the owner negotiated permessage-deflate with a window that fits the shared compressor.
    public let wantsCompressed: Bool

    public init(run: Run, owner: AnyObject, lastSentSeq: Int64, wantsCompressed: Bool) {
        self.run = run
        self.owner = .passUnretained(owner)
        self.lastSentSeq = lastSentSeq
        self.wantsCompressed = wantsCompressed
    }
}
