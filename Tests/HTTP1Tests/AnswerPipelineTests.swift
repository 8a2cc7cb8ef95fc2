import Testing
@testable import HTTP1

typealias Pipeline = AnswerPipeline

extension AnswerPipeline.Request {
    static func now(keepAlive: Bool = true) -> Self { .init(lane: .now, safe: true, keepAlive: keepAlive) }
    static func publishNow() -> Self { .init(lane: .now, safe: false, keepAlive: true) }
    static func redis(safe: Bool = false, keepAlive: Bool = true) -> Self { .init(lane: .ordered, safe: safe, keepAlive: keepAlive) }
    static func worker(safe: Bool = true) -> Self { .init(lane: .offLoop, safe: safe, keepAlive: true) }
    static func upload() -> Self { .init(lane: .offLoop, safe: false, keepAlive: true) }
    static func upgrade() -> Self { .init(lane: .upgrade, safe: true, keepAlive: true) }
}

/// Runs the pipeline's steps, recording them.
func drain(_ p: inout Pipeline) -> [Pipeline.Step] {
    var steps: [Pipeline.Step] = []
    while let s = p.next() {
        steps.append(s)
        if steps.count > 100 { Issue.record("next() does not settle: \(steps.suffix(5))"); break }
    }
    return steps
}

func started(_ a: Pipeline.Admission) -> Pipeline.Slot? {
    if case .start(let s) = a { return s }
    return nil
}

@Suite("Answer pipeline: order, admission, reading, closing (RFC 9112 §9.3.2)")
struct AnswerPipelineTests {
    @Test func anIdleKeepAliveRequestIsAnsweredStraightOutAndNothingFollows() {
        var p = Pipeline()
        let s = started(p.admit(.now()))!
        #expect(p.answerGoesOut(s) && p.keepsAlive(s) && !p.isHead(s))
        p.answered(s)
        #expect(p.isIdle && drain(&p).isEmpty && p.acceptsRequests)
    }

    @Test func redisAnswersOfPipelinedPublishesGoOutInOrderAndOthersWaitBehindThem() {
        var p = Pipeline()
        let a = started(p.admit(.redis()))!
        let b = started(p.admit(.redis()))! // Redis orders them: both start
        let h = started(p.admit(.redis(safe: true)))! // a history read through Redis too
        #expect(p.admit(.now()) == .wait) // health waits: earlier requests are not safe
        #expect(drain(&p) == [.stopReading])
        #expect(p.answerGoesOut(a) && !p.answerGoesOut(b))
        p.answered(b) // parked
        #expect(drain(&p).isEmpty)
        p.answered(a) // straight out; then b's parked answer is due, and the health check may
        // run beside the history read (both safe)
        #expect(drain(&p) == [.emit(b), .admitWaiting])
        let w = started(p.admit(.now()))!
        #expect(!p.answerGoesOut(w)) // behind the history read
        p.answered(w)
        #expect(drain(&p) == [.resumeReading])
        p.answered(h)
        #expect(drain(&p) == [.emit(w)])
    }

    @Test func safeRequestsRunTogetherButAnUnsafeOneWaitsForThem() {
        var p = Pipeline()
        let list = started(p.admit(.worker()))!
        let get = started(p.admit(.worker()))!
        #expect(p.admit(.upload()) == .wait, "an upload after pending reads waits: it could change what they read")
        #expect(drain(&p) == [.stopReading])
        p.answered(get)
        p.answered(list)
        #expect(drain(&p) == [.emit(get), .admitWaiting])
        let up = started(p.admit(.upload()))!
        #expect(p.admit(.worker()) == .wait, "a read after an unfinished upload waits for its commit")
        p.answered(up)
        #expect(drain(&p).contains(.admitWaiting))
    }

    @Test func anEmbeddedPublishBehindAPendingReadWaits() {
        var p = Pipeline()
        let read = started(p.admit(.worker()))!
        #expect(p.admit(.publishNow()) == .wait)
        #expect(drain(&p) == [.stopReading])
        p.answered(read)
        #expect(drain(&p) == [.admitWaiting])
        #expect(drain(&p).isEmpty, "nothing happens until the waiting request is admitted")
        _ = started(p.admit(.publishNow()))!
        #expect(drain(&p) == [.resumeReading])
    }

    @Test func aBodyStreamHoldsLaterAnswersBackUntilItEnds() {
        var p = Pipeline()
        let file = started(p.admit(.worker()))!
        let next = started(p.admit(.worker()))!
        p.answered(next) // parked
        p.answered(file, body: true) // head straight out, body streams
        #expect(drain(&p).isEmpty, "nothing may go out while the body streams")
        #expect(!p.answerGoesOut(next))
        p.bodyFinished(file)
        #expect(drain(&p) == [.emit(next)])
    }

    @Test func aParkedAnswerWithABodyStartsItsBodyWhenItsTurnComes() {
        var p = Pipeline()
        let first = started(p.admit(.worker()))!
        let file = started(p.admit(.worker()))!
        p.answered(file, body: true)
        p.answered(first)
        #expect(drain(&p) == [.startBody(file)])
        p.bodyFinished(file)
        #expect(p.isIdle)
    }

    @Test func nothingAfterARequestWithoutKeepAliveIsAdmittedAndTheConnectionFinishes() {
        var p = Pipeline()
        let a = started(p.admit(.redis()))!
        let last = started(p.admit(.redis(keepAlive: false)))!
        #expect(!p.acceptsRequests && !p.keepsAlive(last) && p.isLast(last))
        #expect(drain(&p) == [.stopReading])
        p.answered(a)
        p.answered(last)
        #expect(drain(&p) == [.finish])
        #expect(drain(&p).isEmpty)
    }

    @Test func finishAfterDropsLaterAnswersAndTheWaitingRequest() {
        var p = Pipeline()
        let a = started(p.admit(.worker()))!
        let b = started(p.admit(.worker()))!
        #expect(p.admit(.upload()) == .wait)
        p.finishAfter(a) // a's answer leaves a request body unread: the byte stream ends there
        p.answered(b)
        p.answered(a)
        let steps = drain(&p)
        #expect(steps.last == .finish && !steps.contains(.emit(b)) && !steps.contains(.admitWaiting))
        #expect(!p.expects(b))
    }

    @Test func anUpgradeWaitsForEveryEarlierAnswerAndEndsRequests() {
        var p = Pipeline()
        let a = started(p.admit(.redis()))!
        #expect(p.admit(.upgrade()) == .wait)
        #expect(drain(&p) == [.stopReading])
        p.answered(a)
        #expect(drain(&p) == [.admitWaiting])
        let up = started(p.admit(.upgrade()))!
        #expect(p.answerGoesOut(up) && !p.acceptsRequests)
    }

    @Test func theQueueIsBoundedByItsCapacity() {
        var p = Pipeline(capacity: 2)
        _ = started(p.admit(.redis()))!
        _ = started(p.admit(.redis()))!
        #expect(p.admit(.redis()) == .wait)
    }

    @Test func endOfInputFinishesOnceEveryAnswerIsOut() {
        var p = Pipeline()
        let a = started(p.admit(.redis()))!
        p.endRequests()
        #expect(drain(&p) == [.stopReading])
        p.answered(a)
        #expect(drain(&p) == [.finish])
    }

    @Test func continueIsSentOnlyForAStartedRequestWhoseWantedBodyHasNotArrived() {
        #expect(Pipeline.continues(expected: true, bodyArrived: false, bodyWanted: true))
        #expect(!Pipeline.continues(expected: true, bodyArrived: true, bodyWanted: true))
        #expect(!Pipeline.continues(expected: true, bodyArrived: false, bodyWanted: false))
        #expect(!Pipeline.continues(expected: false, bodyArrived: false, bodyWanted: true))
    }

    /// Random pipelines of every kind of request, answered in random order with random body
    /// streams, peer closes and shutdowns (seeded, so a failure replays): every admitted answer
    /// is written exactly once and in request order, nothing is admitted after a request
    /// without keep-alive or after the end of requests, no more than `capacity` are pending,
    /// and the pipeline always settles.
    @Test(arguments: 0..<300)
    func randomInterleavingsWriteEveryAnswerOnceInRequestOrder(seed: Int) {
        var rng = SplitMix(seed: UInt64(seed))
        let capacity = Int(rng.next() % 4) + 1
        var p = Pipeline(capacity: capacity)
        var admitted: [Pipeline.Slot] = []
        var kinds: [Pipeline.Slot: Pipeline.Request] = [:]
        var unanswered: [Pipeline.Slot] = []
        var written: [Pipeline.Slot] = []
        var streaming: Pipeline.Slot?
        var waitingRequest: Pipeline.Request?
        var ended = false, finished = false
        var lastAllowed: Pipeline.Slot?
        let menu: [Pipeline.Request] = [.now(), .now(keepAlive: false), .publishNow(), .redis(), .redis(safe: true),
                                        .redis(keepAlive: false), .worker(), .worker(safe: false), .upload(), .upgrade()]
        /// Carries out each step before asking for the next, as the connection does.
        func run() {
            var n = 0
            while let s = p.next() {
                n += 1
                if n > 100 { Issue.record("next() does not settle (seed \(seed))"); return }
                switch s {
                case .emit(let slot):
                    written.append(slot)
                case .startBody(let slot):
                    #expect(streaming == nil, "two bodies at once")
                    written.append(slot)
                    streaming = slot
                case .admitWaiting:
                    guard let w = waitingRequest else { Issue.record("admitWaiting with no request waiting"); continue }
                    guard case .start(let slot) = p.admit(w) else { Issue.record("the waiting request was refused again"); continue }
                    waitingRequest = nil
                    admitted.append(slot)
                    kinds[slot] = w
                    unanswered.append(slot)
                case .finish:
                    #expect(!finished, "finish twice")
                    finished = true
                case .resumeReading, .stopReading:
                    break
                }
            }
        }
        for _ in 0..<60 {
            if finished { break }
            switch rng.next() % 10 {
            case 0...3: // a request arrives
                guard p.acceptsRequests, waitingRequest == nil else { continue }
                #expect(!ended, "a request was taken after requests ended")
                let r = menu[Int(rng.next() % UInt64(menu.count))]
                switch p.admit(r) {
                case .start(let slot):
                    admitted.append(slot)
                    kinds[slot] = r
                    unanswered.append(slot)
                    if r.lane == .now { // answered while handled
                        let direct = p.answerGoesOut(slot)
                        p.answered(slot)
                        if direct { written.append(slot) }
                        unanswered.removeAll { $0 == slot }
                    }
                    if !r.keepAlive || r.lane == .upgrade { ended = true }
                case .wait:
                    waitingRequest = r
                }
            case 4...6: // an answer comes back (any order; Redis ones in order among themselves)
                guard !unanswered.isEmpty else { continue }
                var i = Int(rng.next() % UInt64(unanswered.count))
                if kinds[unanswered[i]]!.lane == .ordered { i = unanswered.firstIndex { kinds[$0]!.lane == .ordered }! }
                let slot = unanswered.remove(at: i)
                let body = rng.next() % 3 == 0
                if p.expects(slot) {
                    let direct = p.answerGoesOut(slot)
                    p.answered(slot, body: body)
                    if direct {
                        written.append(slot)
                        if body { #expect(streaming == nil); streaming = slot }
                    }
                } else {
                    p.answered(slot, body: body) // dropped: ignored
                }
            case 7: // the body being written ends
                if let s = streaming { p.bodyFinished(s); streaming = nil }
            case 8: // an error answer that leaves a body unread closes after its slot
                if let slot = unanswered.first, rng.next() % 4 == 0 {
                    p.finishAfter(slot)
                    lastAllowed = min(lastAllowed ?? slot, slot)
                    waitingRequest = nil
                    ended = true
                }
            default: // end of input or shutdown
                if rng.next() % 6 == 0 { p.endRequests(); ended = true }
            }
            run()
            #expect(p.pending <= capacity)
        }
        // Finish: answer everything left, end every body; the pipeline must then finish.
        p.endRequests()
        while !finished {
            run()
            if let s = streaming { p.bodyFinished(s); streaming = nil; continue }
            if let slot = unanswered.first {
                unanswered.removeFirst()
                let direct = p.answerGoesOut(slot)
                p.answered(slot)
                if direct { written.append(slot) }
                continue
            }
            if waitingRequest != nil { waitingRequest = nil; p.dropWaiting(); continue }
            run()
            if !finished { Issue.record("the pipeline did not finish (seed \(seed))"); break }
        }
        #expect(written == written.sorted(), "answers out of order (seed \(seed)): \(written)")
        #expect(Set(written).count == written.count, "an answer written twice (seed \(seed))")
        let expected = admitted.filter { lastAllowed == nil || $0 <= lastAllowed! }
        #expect(written == expected, "written \(written), admitted \(admitted), last \(String(describing: lastAllowed)) (seed \(seed))")
    }
}

/// A small seeded generator (SplitMix64), so each case is reproducible from its seed.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
