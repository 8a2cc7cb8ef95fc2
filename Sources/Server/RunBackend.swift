import Artifacts
import HTTP1
import PubSub

/// The one place that assigns each run's `seq` and serves its history, chosen once at
/// start-up: `LocalRuns` (one loop, embedded), `LoopBusRuns` (`LOOPS` > 1: the loops of a
/// process share one order) or `RedisRuns` (`REDIS_URL`: Redis owns the order for every
/// instance). Each loop has its own backend object (all confined to that loop), and every
/// backend fans out from its loop's `registry`, where subscriptions live.
///
/// HTTP, WebSocket (and later SSE) code calls it without knowing which it is. An operation
/// answers at once (the return value) or later: then `waiter.backendAnswered(tag, …)` runs on
/// the loop, and answers come in the order the operations were asked (per backend and loop).
protocol RunBackend: AnyObject {
    /// How HTTP requests this backend answers are lined up on their connection.
    var lane: AnswerPipeline.Lane { get }
    /// This loop's runs and their subscriptions (what the loop fans out).
    var registry: RunRegistry { get }
    /// Publishes `batch` in order. Nil: the answer comes to `waiter` later.
    func publish(_ batch: PublishBatch, waiter: BackendWaiter, tag: UInt32) -> BackendAnswer?
    /// The retained events of `runId` after `since`, at most `limit`. Nil: later.
    func history(_ runId: String, since: Int64, limit: Int, now: Double, waiter: BackendWaiter, tag: UInt32) -> BackendAnswer?
    /// The run `runId` ready for a new subscriber; nil when it is not ready yet (Redis reads it
    /// first): `waiter.runReady` follows, or `runUnavailable` — at most once per request.
    func subscribe(_ runId: String, now: Double, waiter: RunWaiter, since: Int64?, epoch: String?) -> Run?
    /// Just before the loop fans out: take in what arrived from elsewhere, send what is queued.
    func beforeFanOut()
    /// Whether `beforeFanOut` does anything (asked once: the loop skips the call otherwise).
    var hasWorkBeforeFanOut: Bool { get }
    /// Once per sweep.
    func sweep(now: Double)
    /// Runs with a subscriber (here, or across the instances the backend spans).
    var activeRunCount: Int { get }
}

/// What a publish asks: validated JSON objects (`ranges` of `body`, in order) for one run.
/// The bytes are valid only during the call.
struct PublishBatch {
    let runId: String
    let body: UnsafeRawBufferPointer
    let ranges: [Range<Int>]
    let now: Double
}

/// A page of a run's history.
struct HistoryPage {
    let epoch: String
    /// The latest seq.
    let seq: Int64
    /// The oldest retained seq.
    let firstSeq: Int64
    let events: [Event]
}

/// How a backend operation ended.
enum BackendAnswer {
    case published(first: Int64, last: Int64)
    /// Nil: no such run (or its history expired).
    case history(HistoryPage?)
    case failed(BackendFailure)
}

/// Why a backend operation did not happen (or may not have).
enum BackendFailure: Error {
    /// The owner of the order is not reachable now: nothing was done.
    case unavailable(String)
    /// The connection went away with the operation in flight: it may or may not have run.
    case lost
    /// The owner answered with an error.
    case failed(String)
}

/// Whoever waits for a backend's later answer: an HTTP connection's answer slot, a
/// WebSocket's publish op.
protocol BackendWaiter: AnyObject {
    func backendAnswered(_ tag: UInt32, _ answer: BackendAnswer)
}

/// A subscriber waiting for its run to be ready (`RunBackend.subscribe`).
protocol RunWaiter: AnyObject {
    func runReady(_ run: Run, since: Int64?, epoch: String?)
}

/// A random 16-hex-digit epoch.
func newEpoch() -> String { Hex.random(bytes: 8) }
