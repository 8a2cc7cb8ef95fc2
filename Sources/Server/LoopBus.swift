import PubSub
import Reactor

/// What lets several loops of one process (`LOOPS` > 1) act as one hub: the one owner of
/// every run's `seq` and epoch, and an inbox per loop.
///
/// A publish on any loop takes the lock once for its whole batch, numbers the events, makes
/// each event once and appends it to every loop's inbox — in one order, the lock's. Each loop
/// drains its own inbox just before it fans out (its own publishes too, so they keep that
/// order) and keeps a full replica of every run's history: subscribing, replay, resume and
/// history reads stay loop-local, and the fan-out path takes no lock. Events are shared and
/// immutable (their encodings are made once, by whichever loop needs one first).
final class LoopBus: @unchecked Sendable {
    /// One published event on its way to a loop.
    struct Delivery {
        let runId: String
        let epoch: String
        let event: Event
        let finishes: Bool
        /// The loop that published it.
        let origin: Int
    }

    private struct Owner {
        var epoch: String
        var lastSeq: Int64 = 0
        var lastActivity: Double
    }

    private let lock = Lock()
    private var runs: [String: Owner] = [:]
    private var inboxes: [[Delivery]]
    /// Run on loop i's thread (through its mailbox) when its inbox stops being empty.
    private var wakes: [(@Sendable () -> Void)?]
    private var activeByLoop: [Set<String>]
    private let forgetAfter: Double

    init(loops count: Int, forgetAfter: Double) {
        inboxes = Array(repeating: [], count: count)
        wakes = Array(repeating: nil, count: count)
        activeByLoop = Array(repeating: [], count: count)
        self.forgetAfter = forgetAfter
    }

    /// Registers loop `index`: `wake` runs on `loop` whenever deliveries start waiting for it.
    func attach(_ loop: EventLoop, index: Int, wake: @escaping @Sendable () -> Void) {
        lock.withLock { wakes[index] = { loop.post(wake) } }
    }

    /// The epoch and latest seq of `runId`, creating the run (new epoch) when missing.
    func state(of runId: String, now: Double) -> (epoch: String, lastSeq: Int64) {
        lock.withLock {
            let o = owner(runId, now: now)
            return (o.epoch, o.lastSeq)
        }
    }

    private func owner(_ runId: String, now: Double) -> Owner {
        if let o = runs[runId] { return o }
        let o = Owner(epoch: newEpoch(), lastActivity: now)
        runs[runId] = o
        return o
    }

    /// Publishes validated JSON objects (`ranges` of `body`, in order) to `runId` for loop
    /// `origin`; `time` is the 24-byte ISO timestamp. Returns the first and last seq.
    func publish(_ runId: String, _ body: UnsafeRawBufferPointer, _ ranges: [Range<Int>], time: UnsafeRawBufferPointer,
                 now: Double, from origin: Int) -> (first: Int64, last: Int64) {
        var wake: [@Sendable () -> Void] = []
        let seqs: (Int64, Int64) = lock.withLock {
            var o = owner(runId, now: now)
            let first = o.lastSeq + 1
            var id = runId
            id.withUTF8 { idBytes in
                for r in ranges {
                    let data = UnsafeRawBufferPointer(rebasing: body[r])
                    o.lastSeq += 1
                    let e = Event.make(runId: UnsafeRawBufferPointer(idBytes), seq: o.lastSeq, time: time, data: data)
                    let d = Delivery(runId: runId, epoch: o.epoch, event: e, finishes: EventBody.finishesRun(data), origin: origin)
                    for l in inboxes.indices {
                        if inboxes[l].isEmpty && l != origin, let w = wakes[l] { wake.append(w) }
                        inboxes[l].append(d)
                    }
                }
            }
            o.lastActivity = now
            runs[runId] = o
            return (first, o.lastSeq)
        }
        for w in wake { w() }
        return seqs
    }

    /// Takes loop `index`'s deliveries (swapping with `spare`, which must be empty).
    func drain(_ index: Int, into spare: inout [Delivery]) {
        lock.withLock { swap(&inboxes[index], &spare) }
    }

    /// Records the runs loop `index` has subscribers for (each loop, every sweep).
    func reportActive(_ index: Int, _ ids: Set<String>) {
        lock.withLock { activeByLoop[index] = ids }
    }

    /// Runs with a subscriber on any loop, as of the loops' last sweeps (`activeRuns`).
    func activeRunCount() -> Int {
        lock.withLock { activeByLoop.reduce(into: Set<String>()) { $0.formUnion($1) }.count }
    }

    /// Forgets runs without a publish or subscribe for `forgetAfter` seconds (a later publish
    /// starts a new epoch, as every loop will have expired the run's history by then).
    func sweep(now: Double) {
        lock.withLock {
            let active = activeByLoop.reduce(into: Set<String>()) { $0.formUnion($1) }
            runs = runs.filter { id, o in now - o.lastActivity < forgetAfter || active.contains(id) }
        }
    }
}

/// The backend of one loop when the loops of a process share one order (`LOOPS` > 1):
/// publishes go through the `LoopBus`; everything else reads this loop's replica, once the
/// loop has taken in what the bus holds for it.
final class LoopBusRuns: LocalRuns {
    let bus: LoopBus
    let index: Int
    private let loop: EventLoop
    private var deliveries: [LoopBus.Delivery] = []
    /// Deliveries may wait in this loop's inbox (its own publishes, or the bus's wake-up):
    /// the bus lock is taken before the fan-out only then.
    private var pending = false

    init(config: Config, events: EventCounters, bus: LoopBus, index: Int, loop: EventLoop) {
        self.bus = bus
        self.index = index
        self.loop = loop
        super.init(config: config, events: events)
        registry.origin = { [unowned loop] id in bus.state(of: id, now: loop.now) }
        let me = LoopBound(value: Unmanaged.passUnretained(self)) // the loops outlive the bus's use
        bus.attach(loop, index: index) { me.value.takeUnretainedValue().pending = true }
    }

    override func publish(_ b: PublishBatch, waiter: BackendWaiter, tag: UInt32) -> BackendAnswer? {
        events.published.add(b.ranges.count)
        pending = true // this loop applies them when it drains, in the bus's one order
        let seqs = withTime(b.now) { bus.publish(b.runId, b.body, b.ranges, time: $0, now: b.now, from: index) }
        return .published(first: seqs.first, last: seqs.last)
    }

    override func history(_ runId: String, since: Int64, limit: Int, now: Double, waiter: BackendWaiter, tag: UInt32) -> BackendAnswer? {
        drain(now: now) // what the other loops published so far
        return super.history(runId, since: since, limit: limit, now: now, waiter: waiter, tag: tag)
    }

    override func subscribe(_ runId: String, now: Double, waiter: RunWaiter, since: Int64?, epoch: String?) -> Run? {
        drain(now: now) // this loop's replica is complete up to now
        return super.subscribe(runId, now: now, waiter: waiter, since: since, epoch: epoch)
    }

    override var hasWorkBeforeFanOut: Bool { true }

    override func beforeFanOut() {
        if pending { drain(now: loop.now) }
    }

    override func sweep(now: Double) {
        super.sweep(now: now)
        bus.reportActive(index, Set(registry.activeRunIds))
        if index == 0 { bus.sweep(now: now) }
    }

    override var activeRunCount: Int { bus.activeRunCount() }

    /// Applies what the loops published since the last drain (this loop's own publishes too:
    /// all in the bus's one order).
    private func drain(now: Double) {
        pending = false
        bus.drain(index, into: &deliveries)
        guard !deliveries.isEmpty else { return }
        for d in deliveries where registry.apply(d.event, runId: d.runId, epoch: d.epoch, finishes: d.finishes, now: now) {
            if d.origin != index { events.relayed.add() } // this loop's own were counted as published
        }
        deliveries.removeAll(keepingCapacity: true)
    }
}
