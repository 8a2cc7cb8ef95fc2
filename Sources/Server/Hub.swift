import Artifacts
import PubSub
import Reactor
#if canImport(Glibc)
import Glibc
#endif

/// The run event hub of one loop: publishes events into runs (seq, history, frame encoded
/// once) and, just before the loop sleeps, fans each run's new frames out to its subscribers
/// with at most one write per socket per iteration.
final class Hub {
    let registry: RunRegistry
    unowned let ctx: LoopContext
    private var dirty: [Run] = []
    private var plain = UnsafeMutableBufferPointer<iovec>.allocate(capacity: 64)
    private var packed = UnsafeMutableBufferPointer<iovec>.allocate(capacity: 64)
    private var timeScratch = ByteBuffer()
    /// Events published and frames handed to sockets (metrics).
    var published = 0
    /// Events received from Redis, or from the other loops of this process.
    var relayed = 0
    var deliveries = 0
    var slowConsumersClosed = 0

    init(config: Config, ctx: LoopContext) {
        self.ctx = ctx
        registry = RunRegistry(maxEventsPerRun: config.historyMaxEvents, maxTotalBytes: config.historyMaxBytes,
                               idleTimeout: config.runIdleTimeout, finishedGrace: config.runFinishedGrace,
                               makeEpoch: Hub.newEpoch)
    }

    deinit {
        plain.deallocate()
        packed.deallocate()
    }

    /// A random 16-hex-digit epoch.
    static func newEpoch() -> String { Hex.random(bytes: 8) }

    /// Publishes validated JSON objects (`ranges` of `body`, in order) to run `id`: through
    /// the bus with `LOOPS` > 1 (this loop applies them when it drains the bus, in the bus's
    /// one order), else straight into the run. Returns the first and last seq.
    func publish(_ body: UnsafeRawBufferPointer, _ ranges: [Range<Int>], to id: String, now: Double) -> (first: Int64, last: Int64) {
        published += ranges.count
        timeScratch.clear()
        ctx.writer.timestamp.appendISO(now, to: &timeScratch)
        let time = UnsafeRawBufferPointer(timeScratch.readable)
        if let bus = ctx.bus {
            ctx.busPending = true
            return bus.publish(id, body, ranges, time: time, now: now, from: ctx.loopIndex)
        }
        let run = registry.run(id, create: true, now: now)!
        let first = run.lastSeq + 1
        for r in ranges {
            let data = UnsafeRawBufferPointer(rebasing: body[r])
            let seq = run.nextSeq()
            let frame = run.idBytes.withUnsafeBytes { EventFrame.encode(runId: $0, seq: seq, time: time, data: data) }
            if run.batch.isEmpty { dirty.append(run) }
            registry.record(frame, in: run, now: now, finishes: EventBody.finishesRun(data))
        }
        return (first, run.lastSeq)
    }

    /// Takes a frame whose seq is `run.lastSeq + 1` from elsewhere (Redis, another loop) into
    /// history and this iteration's fan-out.
    func accept(_ frame: EventFrame, into run: Run, now: Double, finishes: Bool = false, relayed isRelayed: Bool = true) {
        _ = run.nextSeq()
        if run.batch.isEmpty { dirty.append(run) }
        registry.record(frame, in: run, now: now, finishes: finishes)
        if isRelayed { relayed += 1 }
    }

    /// Applies a frame another loop of this process published (deliveries come in the one
    /// order the loops share).
    func apply(_ d: LoopBus.Delivery, now: Double) {
        let seq = d.frame.seq
        let relayed = d.origin != ctx.loopIndex // this loop's own publishes were counted as published
        guard let run = registry.runs[d.runId] else {
            let r = registry.adopt(d.runId, epoch: d.epoch, lastSeq: seq - 1, now: now)
            return accept(d.frame, into: r, now: now, finishes: d.finishes, relayed: relayed)
        }
        if run.epoch != d.epoch {
            newEpoch(run, d.epoch, lastSeq: seq - 1)
        } else if seq <= run.lastSeq {
            return
        } else if seq > run.lastSeq + 1 {
            skip(run, to: seq - 1)
        }
        accept(d.frame, into: run, now: now, finishes: d.finishes, relayed: relayed)
    }

    /// The run's history starts over in `epoch` (its owner lost it, or forgot the run): every
    /// subscriber gets a gap from 1 and reloads; events from `lastSeq + 1` follow.
    func newEpoch(_ run: Run, _ epoch: String, lastSeq: Int64) {
        let known = !run.epoch.isEmpty
        restart(run, epoch: epoch, lastSeq: lastSeq)
        guard known else { return }
        for s in run.subscriptions {
            s._withUnsafeGuaranteedRef { sub in
                let ws = unsafeDowncast(sub.owner.takeUnretainedValue(), to: WebSocketConnection.self)
                ws.sendGap(run, from: 1, to: lastSeq)
                sub.replayNext = 0
                sub.lastSentSeq = lastSeq
            }
        }
    }

    /// History no longer holds seqs up to `seq`: subscribers get a gap, the run moves on.
    func skip(_ run: Run, to seq: Int64) {
        let from = run.lastSeq + 1
        restart(run, epoch: run.epoch, lastSeq: seq)
        for s in run.subscriptions {
            s._withUnsafeGuaranteedRef { sub in
                guard sub.lastSentSeq < seq else { return }
                let ws = unsafeDowncast(sub.owner.takeUnretainedValue(), to: WebSocketConnection.self)
                ws.sendGap(run, from: max(from, sub.lastSentSeq + 1), to: seq)
                sub.replayNext = 0
                sub.lastSentSeq = seq
            }
        }
    }

    /// Restarts the run's history; the frames it took this iteration go out first (they come
    /// before the gap or epoch change that follows).
    private func restart(_ run: Run, epoch: String, lastSeq: Int64) {
        if !run.batch.isEmpty {
            fanOut(run)
            run.batch.removeAll(keepingCapacity: true)
        }
        registry.restart(run, epoch: epoch, lastSeq: lastSeq)
    }

    /// Fans out every run's frames of this iteration (the loop's `beforeFlush`).
    func fanOut() {
        guard !dirty.isEmpty else { return }
        for run in dirty where !run.batch.isEmpty { // empty: sent early by `restart` (and maybe listed twice)
            fanOut(run)
            run.batch.removeAll(keepingCapacity: true)
        }
        dirty.removeAll(keepingCapacity: true)
    }

    private func fanOut(_ run: Run) {
        let frames = run.batch
        if plain.count < frames.count {
            plain.deallocate(); packed.deallocate()
            plain = .allocate(capacity: frames.count * 2)
            packed = .allocate(capacity: frames.count * 2)
        }
        var total = 0
        for (i, f) in frames.enumerated() {
            let b = f.frame
            plain[i] = iovec(iov_base: UnsafeMutableRawPointer(mutating: b.baseAddress), iov_len: b.count)
            total += b.count
        }
        var packedTotal = -1 // built on first need
        // Downward: a subscriber that closes while we deliver removes only itself, and the
        // subscription swapped into its place was already served.
        var i = run.subscriptions.count - 1
        while i >= 0 {
            if i < run.subscriptions.count {
                run.subscriptions[i]._withUnsafeGuaranteedRef { sub in
                    if sub.wantsCompressed && packedTotal < 0 { packedTotal = compress(frames) }
                    let useCompressed = sub.wantsCompressed && packedTotal > 0
                    let iov = UnsafeMutableBufferPointer(rebasing: (useCompressed ? packed : plain)[0..<frames.count])
                    deliveries += sub.owner._withUnsafeGuaranteedRef {
                        unsafeDowncast($0, to: WebSocketConnection.self)
                            .deliver(sub, frames, iov, total: useCompressed ? packedTotal : total)
                    }
                }
            }
            i -= 1
        }
    }

    /// Fills `packed` with each frame's permessage-deflate form (the plain one where
    /// compression does not pay); returns the total.
    private func compress(_ frames: [EventFrame]) -> Int {
        let c = ctx.compressor(windowBits: 15)
        var total = 0
        for (i, f) in frames.enumerated() {
            let b = f.compressedFrame(using: c) ?? f.frame
            packed[i] = iovec(iov_base: UnsafeMutableRawPointer(mutating: b.baseAddress), iov_len: b.count)
            total += b.count
        }
        return total
    }
}
