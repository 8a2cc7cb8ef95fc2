import HTTP1
import Reactor

/// One HTTP/1.1 client connection: the I/O shell around an `AnswerPipeline`.
///
/// Requests are parsed once, straight from the loop's receive buffer; each gets an answer slot
/// in the pipeline, which says when it may start and when its answer may be written. A slot's
/// answer goes straight into the output buffer (flushed once per loop iteration) when its turn
/// has come, else into a parked buffer until then. A request that must wait (for earlier
/// answers, or for the rest of its body) stays parsed: its head and header slots are kept
/// and its bytes stay at the front of the input.
final class HTTPConnection: Socket {
    typealias Slot = AnswerPipeline.Slot

    let ctx: LoopContext
    /// The loop's shared parts, held here as well: one hop less on every request.
    let resources: LoopResources
    let http: HTTPCounters
    let limits: Limits
    var pipeline: AnswerPipeline
    /// What the bytes at the front of the input are.
    enum Phase {
        /// Request heads (and the bodies of requests being collected).
        case heads
        /// The body of the upload in `upload`.
        case upload
        /// The rest of a body being dropped after an error answer that keeps the connection.
        case discard(BodyDiscard)
    }
    var phase = Phase.heads
    /// A parsed request that waits to be admitted, or (admitted) for the rest of its body.
    var held: HeldRequest? { didSet { holding = held != nil } }
    /// `held != nil`, kept as a flag: the parse loop asks on every request.
    private(set) var holding = false
    /// Answers written before their turn, in slot order (only with answers made later).
    var parked: [ParkedAnswer] = []
    /// The body being sent after the head of the answer being written.
    var body: (slot: Slot, source: BodySource)?
    /// Slots waiting for the run backend's answer (publish, or history), with their run.
    var waitingBackend: [(slot: Slot, runId: String, history: Bool)] = []
    /// The streamed upload in progress.
    var upload: UploadSession?
    /// The upload's disk writes are behind: read no more until they catch up.
    var uploadPaused = false
    /// The pipeline's last word on reading new requests.
    private var readsRequests = true
    /// A request head has begun (the header timeout runs).
    private var inRequest = false
    /// The peer sent its last byte (read returned 0).
    private(set) var peerDone = false
    /// The pipeline was told that no more requests come (after the peer's end of input).
    private var inputEnded = false

    init(fd: Int32, ctx: LoopContext) {
        self.ctx = ctx
        resources = ctx.resources
        http = ctx.http
        limits = ctx.limits
        pipeline = AnswerPipeline(capacity: ctx.limits.pipelineDepth)
        super.init(fd: fd, loop: ctx.loop)
        deadline = ctx.loop.now + limits.headerTimeout // a silent new connection is cut off too
    }

    // MARK: Input

    override func received(_ bytes: UnsafeMutableRawBufferPointer) -> Int {
        var offset = 0
        let total = bytes.count
        while offset < total && !isClosed {
            let rest = UnsafeMutableRawBufferPointer(rebasing: bytes[offset...])
            switch phase {
            case .upload:
                guard let u = upload else { phase = .heads; continue }
                offset += u.feed(rest)
                if upload === u && u.bodyDone { bodyRead(); continue } // the next request follows
                return offset // the upload takes more, or its disk is behind
            case .discard(var d):
                switch d.skip(UnsafeRawBufferPointer(rest)) {
                case .more(let used):
                    phase = .discard(d)
                    return offset + used
                case .done(let used):
                    phase = .heads
                    offset += used
                    endOfRequest()
                case .close:
                    close()
                    return total
                }
            case .heads:
                if holding {
                    let used = resumeHeld(rest)
                    if used == 0 { return offset }
                    offset += used
                    continue
                }
                guard pipeline.acceptsRequests else { return offset }
                var head = RequestHead()
                switch RequestParser.parse(UnsafeRawBufferPointer(rest), maxHeadBytes: limits.maxHeaderBytes,
                                           slots: resources.slots, into: &head) {
                case .partial:
                    beginRequest()
                    return offset
                case .invalid(let e):
                    malformed(e)
                    return total
                case .complete:
                    let route = self.route(head, UnsafeRawBufferPointer(rest))
                    // The steady state: an idle keep-alive connection, a request answered at once
                    // without a body — its answer goes straight out.
                    if route.miss == .none && route.endpoint.answersAtOnce && !head.chunked && head.contentLength <= 0,
                       let slot = pipeline.admitWhenIdle(.init(lane: .now, safe: true, keepAlive: head.keepAlive, isHead: head.method == .head)) {
                        http.requests.add()
                        endOfRequest()
                        offset += head.headLength
                        answerAtOnce(route.endpoint, slot, isHead: head.method == .head, direct: true)
                        continue
                    }
                    let used = request(head, rest, route)
                    if used == 0 { return offset } // held: waits for its turn or its body
                    offset += used
                }
            }
        }
        return offset
    }

    @inline(__always)
    private func beginRequest() {
        if !inRequest {
            inRequest = true
            deadline = loop.now + limits.headerTimeout // not extended by trickling bytes (slowloris)
        }
    }

    /// A request's bytes are used up: the idle timeout runs until the next one begins.
    @inline(__always)
    func endOfRequest() {
        inRequest = false
        deadline = loop.now + limits.idleTimeout
    }

    /// A head that cannot be parsed: answered, then the connection closes (nothing after it
    /// can be framed).
    private func malformed(_ e: HTTPParseError) {
        lastAnswer(e.status, code: e.code, message: e.message)
    }

    /// An error answer after every answer already started, then close: the bytes that follow
    /// cannot be framed (a malformed head) or did not come (a timeout). Behind unanswered
    /// requests that are not safe it cannot be admitted: those are answered, then close.
    private func lastAnswer(_ status: Int, code: String, message: String) {
        switch pipeline.admit(.init(lane: .now, safe: true, keepAlive: false)) {
        case .start(let slot):
            fail(slot, status, code: code, message: message, close: true)
        case .wait:
            pipeline.dropWaiting()
            pipeline.endRequests()
            runPipeline()
        }
    }


    override func peerClosed() {
        peerDone = true
        if let u = upload, !u.bodyDone { // the body broke off: nothing of it is stored
            u.connectionClosed()
            upload = nil
            close()
            return
        }
        if pipeline.isIdle && held == nil && body == nil && upload == nil { close(); return }
        runPipeline()
    }

    // MARK: Reading

    /// Applies what the pipeline and the upload want: read when new requests may come (or a
    /// started request's body is still arriving) and the upload's disk keeps up.
    func updateReading() {
        var bodyArriving = upload != nil || held?.slot != nil
        if case .discard = phase { bodyArriving = true }
        if (readsRequests || bodyArriving) && !uploadPaused {
            if isHeld { release() } // parses what is buffered first (not inside a parse)
        } else {
            hold()
        }
    }

    // MARK: Timeouts

    override func timedOut() {
        if let u = upload {
            u.connectionClosed()
            upload = nil
            phase = .heads
            fail(u.slot, 408, code: "request_timeout", message: "the upload body stalled for \(limits.idleTimeout) s", close: true)
        } else if body != nil {
            close() // a reader that stopped reading the body
            return
        } else if let slot = held?.slot {
            held = nil
            fail(slot, 408, code: "request_timeout", message: "the request body was not received within \(limits.headerTimeout) s", close: true)
        } else if inRequest && pipeline.isIdle {
            inRequest = false
            lastAnswer(408, code: "request_timeout", message: "the request was not received within \(limits.headerTimeout) s")
        } else if !pipeline.isIdle {
            // Answers are being made (Redis, disk: they have bounds of their own). A head that
            // stalled behind them gets none: those are written, then the connection closes.
            deadline = loop.now + limits.idleTimeout
            if inRequest {
                inRequest = false
                pipeline.endRequests()
                runPipeline()
            }
            return
        } else {
            close()
            return
        }
        deadline = loop.now + limits.headerTimeout // a peer that will not read the 408 is dropped
    }

    // MARK: Output

    override func drained() {
        if body != nil { pumpBody() }
    }

    override func didClose() {
        http.connections.add(-1)
        upload?.connectionClosed()
        upload = nil
        body?.source.cancel()
        body = nil
        for p in parked { p.source?.cancel() }
        parked.removeAll()
    }

    /// Shutdown: no new requests; the answers already started are written (within the
    /// server's grace period), then the connection closes.
    func shutDown() {
        if held != nil && held?.slot == nil { // a request not started yet is not started now
            held = nil
            pipeline.dropWaiting()
        }
        pipeline.endRequests()
        if pipeline.isIdle && body == nil && upload == nil && held == nil {
            if output.isEmpty { close() } else { finish() }
            return
        }
        runPipeline()
    }

    /// Carries out the pipeline's steps (`first`, then every next one) until it has none.
    @inline(never)
    func runPipeline(_ first: AnswerPipeline.Step? = nil) {
        var given = first
        while !isClosed {
            if let step = given ?? pipeline.next() {
                given = nil
                switch step {
                case .emit(let slot):
                    unpark(slot)
                case .startBody(let slot):
                    if let source = unpark(slot) { beginBody(slot, source) }
                case .admitWaiting:
                    offerInput() // the held request is at the input's front (a running parse goes on by itself)
                case .resumeReading:
                    readsRequests = true
                    updateReading()
                case .stopReading:
                    readsRequests = false
                    updateReading()
                case .finish:
                    finish()
                }
                continue
            }
            // The peer sent its last request: once those buffered are admitted, none follow.
            if peerDone && !inputEnded && held == nil && upload == nil && !isReceiving, case .heads = phase {
                inputEnded = true
                pipeline.endRequests()
                continue
            }
            return
        }
    }
}

/// A parsed request kept across reads: its head, a copy of its header slots (the loop's are
/// reused by the next parse), its route and — once admitted — its slot and body progress. Its
/// bytes stay at the front of the connection's input, so every offset stays valid.
struct HeldRequest {
    let head: RequestHead
    let headers: [HTTPHeaderSlot]
    let route: Route
    /// Nil while it waits to be admitted.
    var slot: AnswerPipeline.Slot?
    /// How far its body was collected (nil: not yet looked at).
    var body: RequestBody?

    init(_ head: RequestHead, slots: UnsafeMutableBufferPointer<HTTPHeaderSlot>, route: Route) {
        self.head = head
        headers = Array(slots[0..<min(head.headerCount, slots.count)])
        self.route = route
    }
}

/// An answer written before its turn, and the body source that follows it (if any).
final class ParkedAnswer {
    let slot: AnswerPipeline.Slot
    var bytes = ByteBuffer()
    var source: BodySource?
    init(slot: AnswerPipeline.Slot) { self.slot = slot }
}
