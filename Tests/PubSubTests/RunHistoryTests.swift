import Testing
@testable import PubSub

@Suite("Runs: seq, bounded history, eviction, expiry")
struct RunHistoryTests {
    func frame(_ run: Run, _ text: String = "{}") -> EventFrame {
        let seq = run.nextSeq()
        let time = Array("2026-01-01T00:00:00.000Z".utf8)
        return run.idBytes.withUnsafeBytes { id in
            time.withUnsafeBytes { t in
                Array(text.utf8).withUnsafeBytes { EventFrame.encode(runId: id, seq: seq, time: t, data: $0) }
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

    @Test func eventFrameIsAServerTextFrameAroundTheVerbatimData() {
        let run = Run(id: "r1", epoch: "e", now: 0)
        let f = frame(run, "{ \"a\" : 1 }")
        let bytes = Array(f.frame)
        #expect(bytes[0] == 0x81) // FIN + text, unmasked (RFC 6455 §5.2)
        #expect(Int(bytes[1]) == f.payload.count)
        #expect(String(decoding: f.payload, as: UTF8.self) ==
                "{\"type\":\"event\",\"runId\":\"r1\",\"seq\":1,\"time\":\"2026-01-01T00:00:00.000Z\",\"data\":{ \"a\" : 1 }}")
    }

    @Test func historyKeepsTheLastEventsInSeqOrder() {
        let reg = registry(maxEvents: 5)
        let run = reg.run("r", create: true, now: 0)!
        for _ in 1...12 { reg.record(frame(run), in: run, now: 1, finishes: false) }
        #expect(run.lastSeq == 12 && run.historyCount == 5 && run.firstRetainedSeq == 8)
        #expect((8...12).map { run.frame(seq: Int64($0))?.seq } == [8, 9, 10, 11, 12])
        #expect(run.frame(seq: 7) == nil && run.frame(seq: 13) == nil)
        #expect(run.batch.map(\.seq) == Array(1...12)) // every publish is fanned out once
    }

    @Test func byteBudgetDropsTheLeastRecentlyActiveRunsHistoryFirst() {
        let reg = registry(maxEvents: 1000, maxBytes: 4000)
        let old = reg.run("old", create: true, now: 0)!
        let new = reg.run("new", create: true, now: 0)!
        for _ in 1...10 { reg.record(frame(old, String(repeating: "1", count: 100)), in: old, now: 1, finishes: false) }
        for _ in 1...20 { reg.record(frame(new, String(repeating: "2", count: 100)), in: new, now: 2, finishes: false) }
        #expect(reg.totalBytes <= 4000)
        #expect(reg.runs["old"] == nil) // no subscribers: forgotten entirely
        #expect(new.lastSeq == 20 && new.historyCount > 0)
        #expect(reg.evictions >= 1)
    }

    @Test func finishedRunsAreForgottenAfterTheGraceUnlessWatched() {
        let reg = registry()
        let done = reg.run("done", create: true, now: 0)!
        reg.record(frame(done), in: done, now: 0, finishes: true)
        done.batch.removeAll()
        let watched = reg.run("watched", create: true, now: 0)!
        reg.record(frame(watched), in: watched, now: 0, finishes: true)
        watched.batch.removeAll()
        let sub = Subscription(run: watched, owner: watched, lastSentSeq: 0, wantsCompressed: false)
        watched.add(sub)
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
        let subs = (0..<5).map { _ in Subscription(run: run, owner: run, lastSentSeq: 0, wantsCompressed: false) }
        subs.forEach(run.add)
        run.remove(subs[1])
        run.remove(subs[4])
        #expect(run.subscriptions.count == 3)
        for (i, u) in run.subscriptions.enumerated() { #expect(u.takeUnretainedValue().index == i) }
    }
}
