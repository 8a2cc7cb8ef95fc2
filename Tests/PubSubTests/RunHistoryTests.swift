import Testing
@testable import PubSub

/// A subscriber that records what the fan-out hands it (a transport in miniature).
final class RecordingSubscription: Subscription {
    var got: [Int64] = []
    var gaps: [(Int64, Int64)] = []
    var takes = true
    override func send(_ batch: FanOutBatch, from first: Int) -> Int {
        guard takes else { return 0 }
        got += batch.events[first...].map(\.seq)
        return batch.events.count - first
    }
    override func sendGap(from: Int64, to: Int64) { gaps.append((from, to)) }
}

@Suite("Runs: seq, bounded history, fan-out, resume, eviction, expiry")
struct RunHistoryTests {
    func event(_ run: Run, _ text: String = "{}") -> Event {
        let time = Array("2026-01-01T00:00:00.000Z".utf8)
        return run.idBytes.withUnsafeBytes { id in
            time.withUnsafeBytes { t in
                Array(text.utf8).withUnsafeBytes { Event.make(runId: id, seq: run.lastSeq + 1, time: t, data: $0) }
            }
        }
    }

    func registry(maxEvents: Int = 5, maxBytes: Int = 1 << 20) -> RunRegistry {
        var n = 0
        return RunRegistry(maxEventsPerRun: maxEvents, maxTotalBytes: maxBytes, idleTimeout: 100, finishedGrace: 10) {
            n += 1
            return "epoch\(n)"
        }
    }

    func publish(_ reg: RunRegistry, _ run: Run, _ n: Int, now: Double = 1, text: String = "{}") {
        for _ in 0..<n { reg.accept(event(run, text), into: run, now: now, finishes: false) }
    }

    @Test func anEventIsItsMessageWithTheDataVerbatimAndNoWireFormat() {
        let run = Run(id: "r1", epoch: "e", now: 0)
        let e = event(run, "{ \"a\" : 1 }")
        #expect(e.seq == 1)
        #expect(String(decoding: e.message, as: UTF8.self) ==
                "{\"type\":\"event\",\"runId\":\"r1\",\"seq\":1,\"time\":\"2026-01-01T00:00:00.000Z\",\"data\":{ \"a\" : 1 }}")
    }

    @Test func aFrameHeaderIsWrittenOnceRightBeforeTheMessage() {
        let run = Run(id: "r1", epoch: "e", now: 0)
        let e = event(run)
        var calls = 0
        let framed = e.framed(headerLength: 2) { calls += 1; $0.storeBytes(of: 0xABCD, as: UInt16.self) }
        let again = e.framed(headerLength: 2) { _ in calls += 1 }
        #expect(calls == 1 && framed.count == e.message.count + 2 && again.baseAddress == framed.baseAddress)
        #expect(framed.baseAddress! + 2 == e.message.baseAddress!)
    }

    @Test func anEncodingIsMadeOnceAndNilIsRememberedToo() {
        let run = Run(id: "r1", epoch: "e", now: 0)
        let e = event(run)
        let key = EncodingKey(index: EncodingKey.capacity - 1) // a slot the server does not take first
        var calls = 0
        let first = e.encoded(key) { _ in
            calls += 1
            let b = Event.encodingBuffer(count: 3)
            b.copyBytes(from: [1, 2, 3])
            return b
        }
        let second = e.encoded(key) { _ in calls += 1; return nil }
        #expect(calls == 1 && first.map(Array.init) == [1, 2, 3] && second?.baseAddress == first?.baseAddress)
        let other = event(run)
        #expect(other.encoded(key) { _ in nil } == nil && other.encoded(key) { _ in Event.encodingBuffer(count: 1) } == nil)
    }

    @Test func historyKeepsTheLastEventsInSeqOrder() {
        let reg = registry(maxEvents: 5)
        let run = reg.run("r", create: true, now: 0)!
        publish(reg, run, 12)
        #expect(run.lastSeq == 12 && run.historyCount == 5 && run.firstRetainedSeq == 8)
        #expect((8...12).map { run.event(seq: Int64($0))?.seq } == [8, 9, 10, 11, 12])
        #expect(run.event(seq: 7) == nil && run.event(seq: 13) == nil)
        #expect(run.batch.map(\.seq) == Array(1...12)) // every publish is fanned out once
    }

    @Test func fanOutHandsEverySubscriberEachNewEventOnceInOrder() {
        let reg = registry(maxEvents: 100)
        let run = reg.run("r", create: true, now: 0)!
        let subs = (0..<3).map { _ in RecordingSubscription(run: run) }
        for s in subs { run.add(s, run.resume(since: nil, epoch: nil)) }
        publish(reg, run, 3)
        #expect(reg.fanOut() == 9)
        publish(reg, run, 2)
        #expect(reg.fanOut() == 6)
        #expect(reg.fanOut() == 0 && run.batch.isEmpty)
        for s in subs { #expect(s.got == [1, 2, 3, 4, 5]) }
        let closed = subs[0]
        closed.takes = false
        publish(reg, run, 1)
        #expect(reg.fanOut() == 2) // a subscriber that takes nothing is not counted
    }

    @Test func resumeReplaysWhatHistoryHoldsAndGapsWhatItDoesNot() {
        let reg = registry(maxEvents: 5)
        let run = reg.run("r", create: true, now: 0)!
        publish(reg, run, 12)
        _ = reg.fanOut()
        let fresh = run.resume(since: nil, epoch: nil)
        #expect(fresh.gap == nil && fresh.replayFrom == 0)
        let near = run.resume(since: 9, epoch: run.epoch)
        #expect(near.gap == nil && near.replayFrom == 10)
        let far = run.resume(since: 2, epoch: run.epoch)
        #expect(far.gap! == (3, 7) && far.replayFrom == 8)
        let foreign = run.resume(since: 11, epoch: "other")
        #expect(foreign.gap! == (1, 7) && foreign.replayFrom == 8)
        #expect(run.resume(since: 12, epoch: run.epoch).replayFrom == 0)
        let s = RecordingSubscription(run: run)
        run.add(s, far)
        var replayed: [Int64] = []
        while case .event(let e) = s.nextReplay() { replayed.append(e.seq) }
        #expect(replayed == [8, 9, 10, 11, 12] && s.replayNext == 0)
        publish(reg, run, 1)
        _ = reg.fanOut()
        #expect(s.got == [13]) // live after the replay, nothing twice
    }

    @Test func anEpochChangeOrASkipTellsSubscribersAfterTheBatchBeforeIt() {
        let reg = registry(maxEvents: 100)
        let run = reg.run("r", create: true, now: 0)!
        let s = RecordingSubscription(run: run)
        run.add(s, run.resume(since: nil, epoch: nil))
        publish(reg, run, 2)
        reg.skip(run, to: 10) // the batch of 1…2 goes out first
        #expect(s.got == [1, 2] && s.gaps.map { [$0.0, $0.1] } == [[3, 10]])
        publish(reg, run, 1)
        reg.newEpoch(run, "e2", lastSeq: 20)
        #expect(s.got == [1, 2, 11] && s.gaps.map { [$0.0, $0.1] } == [[3, 10], [1, 20]] && run.epoch == "e2")
        #expect(reg.apply(event(run), runId: "r", epoch: "e2", finishes: false, now: 2))
        #expect(!reg.apply(Event.wrap(seq: 5, message: UnsafeRawBufferPointer(start: nil, count: 0)), runId: "r", epoch: "e2", finishes: false, now: 2))
        _ = reg.fanOut()
        #expect(s.got.last == 21)
    }

    @Test func byteBudgetDropsTheLeastRecentlyActiveRunsHistoryFirst() {
        let reg = registry(maxEvents: 1000, maxBytes: 4000)
        let old = reg.run("old", create: true, now: 0)!
        let new = reg.run("new", create: true, now: 0)!
        publish(reg, old, 10, text: String(repeating: "1", count: 100))
        publish(reg, new, 20, now: 2, text: String(repeating: "2", count: 100))
        #expect(reg.totalBytes <= 4000)
        #expect(reg.runs["old"] == nil) // no subscribers: forgotten entirely
        #expect(new.lastSeq == 20 && new.historyCount > 0)
        #expect(reg.evictions >= 1)
    }

    @Test func finishedRunsAreForgottenAfterTheGraceUnlessWatched() {
        let reg = registry()
        let done = reg.run("done", create: true, now: 0)!
        reg.accept(event(done), into: done, now: 0, finishes: true)
        let watched = reg.run("watched", create: true, now: 0)!
        reg.accept(event(watched), into: watched, now: 0, finishes: true)
        _ = reg.fanOut()
        let sub = RecordingSubscription(run: watched)
        watched.add(sub, watched.resume(since: nil, epoch: nil))
        reg.sweep(now: 5)
        #expect(reg.runs["done"] != nil) // within the grace period
        reg.sweep(now: 11)
        #expect(reg.runs["done"] == nil && reg.runs["watched"] != nil)
        watched.remove(sub)
        #expect(watched.subscriptions.isEmpty && sub.index == -1)
        reg.sweep(now: 12)
        #expect(reg.runs["watched"] == nil)
    }

    @Test func idleRunsEndAfterTheIdleTimeout() {
        let reg = registry()
        let run = reg.run("idle", create: true, now: 0)!
        reg.sweep(now: 50)
        #expect(run.finishedAt == nil)
        reg.sweep(now: 100)
        #expect(run.finishedAt == 100)
        reg.sweep(now: 110)
        #expect(reg.runs["idle"] == nil)
    }

    @Test func removingSubscriptionsKeepsIndicesConsistent() {
        let run = Run(id: "r", epoch: "e", now: 0)
        let subs = (0..<5).map { _ in RecordingSubscription(run: run) }
        for s in subs { run.add(s, run.resume(since: nil, epoch: nil)) }
        run.remove(subs[1])
        run.remove(subs[4])
        #expect(run.subscriptions.count == 3)
        for (i, u) in run.subscriptions.enumerated() { #expect(u.takeUnretainedValue().index == i) }
    }
}
