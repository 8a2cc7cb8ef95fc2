import PubSub
import Reactor

/// What lets several loops of one process (`LOOPS` > 1) act as one hub: the one owner of
/// every run's `seq` and epoch, and an inbox per loop.
///
/// A publish on any loop takes the lock once for its whole batch, numbers the events, encodes
/// each frame once and appends it to every loop's inbox — in one order, the lock's. Each loop
/// drains its own inbox just before it fans out (its own publishes too, so they keep that
/// order) and keeps a full replica of every run's history: subscribing, replay, resume and
/// history reads stay loop-local, and the fan-out path takes no lock. Frames are shared,
/// immutable bytes (their compressed variant is made once, under the frame's own lock).
final class LoopBus: @unchecked Sendable {
    /// One published frame on its way to a loop.
    struct Delivery {
        let runId: String
        let epoch: String
        let frame: EventFrame
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
        let o = Owner(epoch: Hub.newEpoch(), lastActivity: now)
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
            for r in ranges {
                let data = UnsafeRawBufferPointer(rebasing: body[r])
                o.lastSeq += 1
                let seq = o.lastSeq
                var id = runId
                let frame = id.withUTF8 { EventFrame.encode(runId: UnsafeRawBufferPointer($0), seq: seq, time: time, data: data) }
                frame.share()
                let d = Delivery(runId: runId, epoch: o.epoch, frame: frame, finishes: EventBody.finishesRun(data), origin: origin)
                for l in inboxes.indices {
                    if inboxes[l].isEmpty && l != origin, let w = wakes[l] { wake.append(w) }
                    inboxes[l].append(d)
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
