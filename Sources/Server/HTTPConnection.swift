import HTTP1
import Reactor

/// One HTTP/1.1 client connection: parses requests straight from the loop's receive buffer,
/// dispatches them by `Endpoint`, and writes responses into its output buffer, which the
/// loop flushes once per iteration. Keep-alive and pipelining fall out of parsing by offset.
final class HTTPConnection: Socket {
    let ctx: LoopContext
    /// A request has begun (its head or body is incomplete): the header timeout runs.
    var inRequest = false
    /// Requests whose asynchronous (Redis) answers are not written yet.
    private(set) var awaiting = 0
    /// A request that would have been answered at once, ahead of pending asynchronous
    /// answers, waits and is parsed again afterwards.
    private var retryAfterAsync = false
    var sentContinue = false
    /// 0: parsing requests; `Busy.uploading`: body bytes go to `session`; `Busy.waiting`: an
    /// answer is being made off the loop (or a file is being sent) and later requests wait.
    var busy: UInt8 = 0
    enum Busy { static let uploading: UInt8 = 1, waiting: UInt8 = 2 }
    /// The streamed upload in progress.
    var session: UploadSession?
    /// The file body being sent.
    var transfer: FileTransfer?
    /// Keep-alive and HEAD of the request whose answer is being made off the loop.
    var pendingKeepAlive = true
    var pendingHead = false
    /// Set by shutdown: close once the answer in progress is written.
    var closeWhenAnswered = false

    init(fd: Int32, ctx: LoopContext) {
        self.ctx = ctx
        super.init(fd: fd, loop: ctx.loop)
        deadline = ctx.loop.now + ctx.headerTimeout // a silent new connection is cut off too
    }

    override func received(_ bytes: UnsafeMutableRawBufferPointer) -> Int {
        if busy != 0 { return busy == Busy.uploading ? session?.feed(bytes) ?? 0 : 0 }
        var offset = 0
        let total = bytes.count
        while offset < total {
            let slice = UnsafeMutableRawBufferPointer(rebasing: bytes[offset...])
            var head = RequestHead()
            switch RequestParser.parse(UnsafeRawBufferPointer(slice), maxHeadBytes: ctx.maxHeaderBytes,
                                       slots: ctx.slots, into: &head) {
            case .partial:
                beginRequest()
                return offset
            case .invalid(let e):
                fail(e.status, code: e.code, message: e.message)
                return total
            case .complete:
                let used = request(head, slice)
                if used == 0 { beginRequest(); return offset } // body still arriving
                offset += used
                if isClosed || used < 0 { return total }
                if busy != 0 { return offset } // later requests wait for this answer
                inRequest = false
                sentContinue = false
                deadline = loop.now + ctx.idleTimeout
                if isHeld { return offset } // an answer is pending (Redis): later requests wait
            }
        }
        return offset
    }

    @inline(__always)
    private func beginRequest() {
        if !inRequest {
            inRequest = true
            deadline = loop.now + ctx.headerTimeout // not extended by trickling bytes (slowloris)
        }
    }

    override func timedOut() {
        if busy == Busy.uploading {
            session?.connectionClosed()
            session = nil
            fail(408, code: "request_timeout", message: "the upload body stalled for \(ctx.idleTimeout) s")
        } else if busy == Busy.waiting {
            if transfer != nil { close() } else { deadline = loop.now + ctx.idleTimeout } // waiting on our disk
        } else if inRequest {
            fail(408, code: "request_timeout", message: "the request was not received within \(ctx.headerTimeout) s")
            deadline = loop.now + ctx.headerTimeout // a peer that will not read the 408 is dropped
        } else {
            close()
        }
    }

    /// Answers an error, then (unless `keepAlive`) closes once it is written.
    func fail(_ status: Int, code: String, message: String, extraHeaders: String = "", head: Bool = false,
                      keepAlive: Bool = false) {
        ctx.errors += 1
        prepareOutput()
        ctx.writer.error(status, code: code, message: message, keepAlive: keepAlive, now: loop.now,
                         extraHeaders: extraHeaders, head: head, into: &output)
        if keepAlive { markForFlush() } else { finish() }
    }

    /// Handles one parsed request whose head is at the start of `buf`. Returns the bytes it
    /// used (head + body), 0 when the body is not complete yet, or -1 after closing.
    private func request(_ head: RequestHead, _ buf: UnsafeMutableRawBufferPointer) -> Int {
        prepareOutput()
        let isHead = head.method == .head
        if head.method == .other {
            fail(501, code: "not_implemented", message: "this method is not implemented", head: isHead)
            return -1
        }
        let path = head.path(in: UnsafeRawBufferPointer(buf))
        let hasBody = head.chunked || head.contentLength > 0
        switch ctx.routerRef._withUnsafeGuaranteedRef({ $0.match(method: head.method, path: path) }) {
        case .notFound:
            // Without a body the connection stays usable; with one, closing is simpler than skipping it.
            let keep = head.keepAlive && !hasBody
            fail(404, code: "not_found", message: "no route for \(describe(head, buf))", head: isHead, keepAlive: keep)
            return keep ? head.headLength : -1
        case .methodNotAllowed(let allow):
            let keep = head.keepAlive && !hasBody
            fail(405, code: "method_not_allowed", message: "\(describe(head, buf)) is not allowed; use \(allow)",
                 extraHeaders: "Allow: \(allow)\r\n", head: isHead, keepAlive: keep)
            return keep ? head.headLength : -1
        case .found(let endpoint, let maxBody, let params):
            // Behind pending Redis answers only publishes and history reads go ahead; anything
            // else waits and is parsed again later — before its body is read, since a chunked
            // body is decoded in place and could not be parsed twice.
            if awaiting > 0 && (head.chunked || !(endpoint == .publishEvents || (endpoint == .runEvents && !head.upgrade))) {
                hold()
                return 0
            }
            if case .uploadArtifact = endpoint {
                ctx.requests += 1
                return startUpload(head, buf, runId: params.bytes(0, in: path))
            }
            var body = UnsafeMutableRawBufferPointer(start: nil, count: 0)
            var used = head.headLength
            if hasBody {
                if head.contentLength > Int64(maxBody) {
                    fail(413, code: "body_too_large", message: "the request body exceeds \(maxBody) bytes allowed here")
                    return -1
                }
                switch readBody(head, buf, maxBody: maxBody) {
                case .wait: return 0
                case .failed: return -1
                case .done(let b, let n): body = b; used = n
                }
            }
            ctx.requests += 1
            switch endpoint {
            case .echo: return upgrade(head, buf, role: .echo)
            case .multiplexed: return upgrade(head, buf, role: .events)
            case .runEvents where head.upgrade:
                return upgradeToRun(head, buf, runId: params.bytes(0, in: path))
            case .runEvents:
                history(head, buf, runId: params.bytes(0, in: path))
            case .publishEvents:
                publish(head, buf, runId: params.bytes(0, in: path), body: UnsafeRawBufferPointer(body))
            case .listArtifacts, .getArtifact, .deleteArtifact, .downloadArtifact, .cleanupStats, .file:
                artifactRequest(endpoint, head, buf, path: path, params: params)
            default:
                dispatch(endpoint, head, buf, body: body)
            }
            if isClosed { return -1 }
            if retryAfterAsync { retryAfterAsync = false; ctx.requests -= 1; return 0 } // counted when parsed again
            if awaiting > 0 { return head.keepAlive ? used : -1 } // `endAsync` answers and closes
            if busy != 0 { return used } // answered from the worker pool, then later requests
            if !head.keepAlive { finish(); return -1 }
            return used
        }
    }

    private enum BodyState { case wait, failed, done(UnsafeMutableRawBufferPointer, Int) }

    /// Collects a `Content-Length` or chunked body that follows the head in `buf`.
    private func readBody(_ head: RequestHead, _ buf: UnsafeMutableRawBufferPointer, maxBody: Int) -> BodyState {
        let start = head.headLength
        if !head.chunked {
            let n = Int(head.contentLength)
            if buf.count - start >= n {
                return .done(UnsafeMutableRawBufferPointer(rebasing: buf[start..<(start + n)]), start + n)
            }
            continueIfAsked(head)
            return .wait
        }
        // Chunked (RFC 9112 §7.1): validate first; compact the data in place once complete.
        var decoder = ChunkedDecoder()
        var at = start
        while true {
            let step = decoder.decode(UnsafeRawBufferPointer(rebasing: buf[at...]))
            switch step {
            case .data(_, _, let consumed), .needMore(let consumed):
                at += consumed
                if decoder.bodyBytes > Int64(maxBody) {
                    fail(413, code: "body_too_large", message: "the request body exceeds \(maxBody) bytes allowed here")
                    return .failed
                }
                if case .needMore = step { continueIfAsked(head); return .wait }
            case .end(let consumed):
                at += consumed
                var decode2 = ChunkedDecoder()
                var read = start, write = start
                while read < at {
                    switch decode2.decode(UnsafeRawBufferPointer(rebasing: buf[read..<at])) {
                    case .data(let s, let c, let consumed):
                        if write != read + s { (buf.baseAddress! + write).copyMemory(from: buf.baseAddress! + read + s, byteCount: c) }
                        write += c
                        read += consumed
                    case .needMore(let consumed), .end(let consumed): read += consumed
                    case .invalid: read = at
                    }
                }
                return .done(UnsafeMutableRawBufferPointer(rebasing: buf[start..<write]), at)
            case .invalid(let e):
                fail(e.status, code: e.code, message: e.message)
                return .failed
            }
        }
    }

    /// `Expect: 100-continue` (RFC 9110 §10.1.1): say continue once, only when the body is wanted.
    func continueIfAsked(_ head: RequestHead) {
        guard head.expectContinue, !sentContinue else { return }
        sentContinue = true
        prepareOutput()
        output.append("HTTP/1.1 100 Continue\r\n\r\n")
        markForFlush()
    }

    private func describe(_ head: RequestHead, _ buf: UnsafeMutableRawBufferPointer) -> String {
        let method = String(decoding: UnsafeRawBufferPointer(rebasing: buf[0..<Swift.min(buf.count, 16)]).prefix { $0 != 32 }, as: UTF8.self)
        let target = String(decoding: UnsafeRawBufferPointer(rebasing: buf[head.targetStart..<(head.targetStart + Swift.min(head.targetLength, 256))]), as: UTF8.self)
        return "\(method) \(target)"
    }

    private func dispatch(_ endpoint: Endpoint, _ head: RequestHead, _ buf: UnsafeMutableRawBufferPointer,
                          body: UnsafeMutableRawBufferPointer) {
        let now = loop.now
        let isHead = head.method == .head
        switch endpoint {
        case .health:
            // {"status":"ok","timestamp":"2025-11-21T14:49:52.479Z"}: 28 + 24 + 2 bytes.
            ctx.writer.head(200, contentType: "application/json", contentLength: 54, keepAlive: head.keepAlive, now: now, into: &output)
            ctx.writer.endHead(into: &output)
            if !isHead {
                output.append("{\"status\":\"ok\",\"timestamp\":\"")
                ctx.writer.timestamp.appendISO(now, to: &output)
                output.append("\"}")
            }
        case .ready:
            let (ok, reason) = ctx.server.readiness
            let bodyText = ok ? "{\"status\":\"ready\"}" : "{\"status\":\"unavailable\",\"reason\":\(jsonString(reason))}"
            respond(ok ? 200 : 503, json: bodyText, head)
        case .wsStats:
            respond(200, json: ctx.server.statsJSON(now: now), head)
        case .echo, .multiplexed, .runEvents, .publishEvents:
            break // handled before dispatch
        case .metrics:
            var text = ctx.server.metricsText(now: now)
            text.withUTF8 { respond(200, "text/plain; version=0.0.4", UnsafeRawBufferPointer($0), head) }
        case .uploadArtifact:
            break // streamed, started before the body is read
        case .listArtifacts, .getArtifact, .deleteArtifact, .downloadArtifact, .cleanupStats, .file:
            break // need the route parameters: handled before dispatch
        case .filePreflight:
            ctx.writer.head(204, contentType: nil, contentLength: 0, keepAlive: head.keepAlive, now: now, into: &output)
            output.append(string: ArtifactHTTP.preflight)
            ctx.writer.endHead(into: &output)
        }
        markForFlush()
    }

    /// Switches to WebSocket (or answers why not). The new connection takes the socket and any
    /// bytes the client sent after the handshake.
    func upgrade(_ head: RequestHead, _ buf: UnsafeMutableRawBufferPointer, role: WebSocketConnection.Role,
                         subscribe: (runId: String, since: Int64?, epoch: String?)? = nil) -> Int {
        var publisher = false
        var token: String?
        if role == .events {
            publisher = ctx.hasPublisherKey(head, UnsafeRawBufferPointer(buf)) ?? false
            if let q = head.query(in: UnsafeRawBufferPointer(buf)) { token = Query(bytes: q).string("token") }
        }
        let agreement: WebSocketUpgrade.Agreement
        do {
            agreement = try WebSocketUpgrade.accept(head, UnsafeRawBufferPointer(buf), ctx: ctx, into: &output)
        } catch {
            fail(error.status, code: error.code, message: error.message, extraHeaders: error.headers)
            return -1
        }
        let ws = WebSocketConnection(fd: fd, ctx: ctx, role: role, deflate: agreement.deflate)
        ctx.connections -= 1
        ctx.webSockets += 1
        handOver(to: ws)
        ws.deadline = loop.now + ctx.wsPingInterval
        ws.isPublisher = publisher
        ws.handshakeToken = token
        if let subscribe { ws.subscribe(runId: subscribe.runId, since: subscribe.since, epoch: subscribe.epoch) }
        let rest = buf.count - head.headLength
        if rest > 0 {
            let more = UnsafeMutableRawBufferPointer(rebasing: buf[head.headLength...])
            let used = ws.received(more)
            if used < rest && !ws.isClosed { ws.input.append(UnsafeRawBufferPointer(rebasing: more[used...])) }
        }
        return -1
    }

    /// Writes a whole response (the body left out for HEAD) and queues it for the flush.
    func respond(_ status: Int, _ contentType: StaticString, _ body: UnsafeRawBufferPointer, _ head: RequestHead) {
        respond(status, contentType, body, keepAlive: head.keepAlive, isHead: head.method == .head)
    }

    /// The same with keep-alive and HEAD given (answers made after the request's head is gone).
    func respond(_ status: Int, _ contentType: StaticString, _ body: UnsafeRawBufferPointer, keepAlive: Bool, isHead: Bool) {
        prepareOutput()
        ctx.writer.head(status, contentType: contentType, contentLength: body.count, keepAlive: keepAlive, now: loop.now, into: &output)
        ctx.writer.endHead(into: &output)
        if !isHead { output.append(body) }
        markForFlush()
    }

    /// A JSON response built as text (cold paths: stats, readiness, publish acknowledgements).
    func respond(_ status: Int, json text: String, _ head: RequestHead) {
        var t = text
        t.withUTF8 { respond(status, "application/json", UnsafeRawBufferPointer($0), head) }
    }

    /// Starts a request answered asynchronously through Redis. Such answers come back in the
    /// order the commands were sent (one Redis connection), so pipelined publishes and history
    /// reads all go out at once; any other request waits until they are answered, and nothing
    /// after a request without keep-alive is read.
    func beginAsync(keepAlive: Bool) {
        awaiting += 1
        if !keepAlive { hold() }
    }

    /// True (and reading stops) when answers are pending: the caller must not answer now; the
    /// request is parsed again once they are written.
    func deferredBehindAsync() -> Bool {
        guard awaiting > 0 else { return false }
        hold()
        retryAfterAsync = true
        return true
    }

    /// After an asynchronous answer was written: closes (without keep-alive) or, once every
    /// answer is out, reads on.
    func endAsync(keepAlive: Bool) {
        awaiting -= 1
        guard !isClosed else { return }
        if !keepAlive { finish() } else if awaiting == 0 && isHeld { release() }
    }

    override func drained() {
        if transfer != nil { transfer!.pump() }
    }

    override func didClose() {
        ctx.connections -= 1
        if session != nil { session!.connectionClosed(); session = nil }
        if transfer != nil { transfer!.cancel(); transfer = nil }
    }
}
