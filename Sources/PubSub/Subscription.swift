/// One subscriber's interest in one run: what it has had (`lastSentSeq`) and, while it
/// catches up, the history it is being replayed.
///
/// PubSub decides what a subscriber gets and when (`Run.fanOut`, `Run.resume`,
/// `nextReplay`); a transport decides how it goes out. Each transport subclasses this and
/// overrides `send(_:from:)` and `sendGap(from:to:)`, holding its own connection with its
/// own type — so a subscriber of any kind (WebSocket, SSE, a dashboard) is served through the
/// same loop, without casts. The run retains its subscriptions; a transport removes its
/// subscription (`Run.remove`) before its connection goes away.
open class Subscription {
    /// The run subscribed to.
    public let run: Run
    /// Position in `run.subscriptions` (-1 when removed).
    public internal(set) var index = -1
    /// The last seq handed to the subscriber (delivered, queued or skipped by a gap).
    public internal(set) var lastSentSeq: Int64 = 0
    /// While replaying history: the next seq to replay (0 when live).
    public internal(set) var replayNext: Int64 = 0

    public init(run: Run) {
        self.run = run
    }

    /// Sends `batch.events[first...]`, the events of this fan-out the subscriber has not had,
    /// in order; returns how many went out (0 when the connection takes no more). Called by
    /// the run's fan-out once per batch, before the loop sleeps.
    open func send(_ batch: FanOutBatch, from first: Int) -> Int { 0 }

    /// History cannot give this subscriber `from...to`: tell it (a `gap` message). `from == 1`
    /// after a new epoch: what it holds of the run is void.
    open func sendGap(from: Int64, to: Int64) {}

    /// The next step of this subscriber's replay (`replayNext` ≠ 0), advancing past it.
    public func nextReplay() -> ReplayStep {
        guard replayNext != 0 else { return .done }
        if replayNext > run.lastSeq { replayNext = 0; return .done }
        if let e = run.event(seq: replayNext) {
            lastSentSeq = e.seq
            replayNext += 1
            return .event(e)
        }
        // Evicted while it replayed: what is left starts at the oldest retained event.
        let first = run.firstRetainedSeq
        let gap = ReplayStep.gap(from: replayNext, to: first - 1)
        replayNext = first > run.lastSeq ? 0 : first
        lastSentSeq = first - 1
        return gap
    }
}

/// One step of a replay (`Subscription.nextReplay`).
public enum ReplayStep {
    /// Send this retained event.
    case event(Event)
    /// These seqs left history while the replay ran: announce the gap, then go on.
    case gap(from: Int64, to: Int64)
    /// The replay is over: the subscriber is live.
    case done
}
