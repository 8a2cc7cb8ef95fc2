import HTTP1
import PubSub
import Reactor

/// The embedded backend (one loop, no Redis): this loop numbers every run's events itself and
/// answers everything at once.
class LocalRuns: RunBackend {
    let registry: RunRegistry
    let events: EventCounters
    /// The events' ISO time, from the loop's cached clock.
    private var timestamp = Timestamp()
    private var timeScratch = ByteBuffer()

    init(config: Config, events: EventCounters) {
        registry = RunRegistry(maxEventsPerRun: config.historyMaxEvents, maxTotalBytes: config.historyMaxBytes,
                               idleTimeout: config.runIdleTimeout, finishedGrace: config.runFinishedGrace,
                               makeEpoch: newEpoch)
        self.events = events
    }

    var lane: AnswerPipeline.Lane { .now }

    func publish(_ b: PublishBatch, waiter: BackendWaiter, tag: UInt32) -> BackendAnswer? {
        events.published.add(b.ranges.count)
        let run = registry.run(b.runId, create: true, now: b.now)!
        let first = run.lastSeq + 1
        withTime(b.now) { time in
            run.idBytes.withUnsafeBytes { id in
                for r in b.ranges {
                    let data = UnsafeRawBufferPointer(rebasing: b.body[r])
                    let e = Event.make(runId: id, seq: run.lastSeq + 1, time: time, data: data)
                    registry.accept(e, into: run, now: b.now, finishes: EventBody.finishesRun(data))
                }
            }
        }
        return .published(first: first, last: run.lastSeq)
    }

    /// Runs `body` with the 24-byte ISO time of `now`.
    func withTime<T>(_ now: Double, _ body: (UnsafeRawBufferPointer) -> T) -> T {
        timeScratch.clear()
        timestamp.appendISO(now, to: &timeScratch)
        return body(UnsafeRawBufferPointer(timeScratch.readable))
    }

    func history(_ runId: String, since: Int64, limit: Int, now: Double, waiter: BackendWaiter, tag: UInt32) -> BackendAnswer? {
        guard let run = registry.run(runId, create: false, now: now) else { return .history(nil) }
        let firstSeq = run.firstRetainedSeq
        var seq = max(since + 1, firstSeq)
        var page: [Event] = []
        while seq <= run.lastSeq && page.count < limit, let e = run.event(seq: seq) {
            page.append(e)
            seq += 1
        }
        return .history(HistoryPage(epoch: run.epoch, seq: run.lastSeq, firstSeq: firstSeq, events: page))
    }

    func subscribe(_ runId: String, now: Double, waiter: RunWaiter, since: Int64?, epoch: String?) -> Run? {
        let run = registry.run(runId, create: true, now: now)!
        run.lastActivity = now
        return run
    }

    var hasWorkBeforeFanOut: Bool { false }

    func beforeFanOut() {}

    func sweep(now: Double) { registry.sweep(now: now) }

    var activeRunCount: Int { registry.activeRunCount }
}
