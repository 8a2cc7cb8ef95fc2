import HTTP1
import Reactor

/// Where a request goes: the router's answer, kept with a held request. Plain data (the
/// `Allow` list of a 405 is looked up again when answered), so it costs no reference counting.
struct Route {
    enum Miss: UInt8 { case none, notFound, methodNotAllowed, notImplemented }
    var endpoint = Endpoint.health
    var maxBody = 0
    var params = RouteParams()
    var miss = Miss.none
}

/// A request being handled: its slot, head, bytes (from its first byte: head, then body),
/// header slots, route parameters and complete body. Valid only while it is handled.
struct Incoming {
    let slot: AnswerPipeline.Slot
    let head: RequestHead
    let buf: UnsafeMutableRawBufferPointer
    let slots: UnsafeBufferPointer<HTTPHeaderSlot>
    let params: RouteParams
    let body: UnsafeRawBufferPointer
    var raw: UnsafeRawBufferPointer { UnsafeRawBufferPointer(buf) }
    var isHead: Bool { head.method == .head }
    var path: UnsafeRawBufferPointer { head.path(in: raw) }
    func param(_ i: Int) -> UnsafeRawBufferPointer { params.bytes(i, in: path) }
    func header(_ name: StaticString) -> UnsafeRawBufferPointer? { head.header(name, in: raw, slots: slots) }
    /// A header's value as text (cold paths).
    func headerText(_ name: StaticString) -> String? { header(name).map { String(decoding: $0, as: UTF8.self) } }
    var query: Query { Query(bytes: head.query(in: raw) ?? UnsafeRawBufferPointer(start: nil, count: 0)) }
}

extension HTTPConnection {
    /// Handles a parsed request whose head starts `buf`. Returns the bytes it used (head and
    /// body), or 0 when it is held (it waits for its turn or for its body; its bytes stay).
    func request(_ head: RequestHead, _ buf: UnsafeMutableRawBufferPointer, _ route: Route) -> Int {
        switch pipeline.admit(pipelineRequest(head, route)) {
        case .wait:
            held = HeldRequest(head, slots: resources.slots, route: route)
            runPipeline() // stops reading
            return 0
        case .start(let slot):
            return start(head, buf, UnsafeBufferPointer(resources.slots), route, slot, nil)
        }
    }

    /// Goes on with the held request at the front of `buf`: admits it when it waited, and
    /// handles it once its body is complete. Returns the bytes used, or 0 while it is held.
    func resumeHeld(_ buf: UnsafeMutableRawBufferPointer) -> Int {
        guard var h = held else { return 0 }
        if h.slot == nil {
            guard case .start(let slot) = pipeline.admit(pipelineRequest(h.head, h.route)) else { return 0 }
            h.slot = slot
        }
        held = nil
        return h.headers.withUnsafeBufferPointer { start(h.head, buf, $0, h.route, h.slot!, h.body) }
    }

    @inline(__always)
    func route(_ head: RequestHead, _ buf: UnsafeRawBufferPointer) -> Route {
        var r = Route()
        if head.method == .other { r.miss = .notImplemented; return r }
        let path = head.path(in: buf)
        switch resources.routerRef._withUnsafeGuaranteedRef({ $0.match(method: head.method, path: path) }) {
        case .found(let e, let maxBody, let params):
            r.endpoint = e
            r.maxBody = maxBody
            r.params = params
        case .notFound: r.miss = .notFound
        case .methodNotAllowed: r.miss = .methodNotAllowed
        }
        return r
    }

    /// The `Allow` list for a 405 (looked up again: the miss is rare).
    private func allowed(_ head: RequestHead, _ buf: UnsafeMutableRawBufferPointer) -> String {
        let path = head.path(in: UnsafeRawBufferPointer(buf))
        if case .methodNotAllowed(let allow) = resources.routerRef._withUnsafeGuaranteedRef({ $0.match(method: head.method, path: path) }) {
            return allow
        }
        return ""
    }

    /// How the pipeline lines the request up.
    @inline(__always)
    private func pipelineRequest(_ head: RequestHead, _ route: Route) -> AnswerPipeline.Request {
        let m = head.method
        var lane = AnswerPipeline.Lane.now
        if route.miss == .none {
            switch route.endpoint {
            case .health, .ready, .wsStats, .metrics, .filePreflight: lane = .now
            case .publishEvents: lane = ctx.backend.lane
            case .runEvents: lane = head.upgrade ? .upgrade : ctx.backend.lane
            case .echo, .multiplexed: lane = .upgrade
            case .uploadArtifact, .listArtifacts, .getArtifact, .deleteArtifact, .downloadArtifact, .file, .cleanupStats: lane = .offLoop
            }
        }
        return .init(lane: lane, safe: m == .get || m == .head || m == .options, keepAlive: head.keepAlive, isHead: m == .head)
    }

    /// Starts an admitted request. Returns the bytes used, or 0 while its body is incomplete
    /// (it is then held with `slot`).
    private func start(_ head: RequestHead, _ buf: UnsafeMutableRawBufferPointer, _ slots: UnsafeBufferPointer<HTTPHeaderSlot>,
                       _ route: Route, _ slot: Slot, _ progress: RequestBody?) -> Int {
        switch route.miss {
        case .none: break
        case .notImplemented: // an unknown method: whatever follows cannot be trusted to be framed as we think
            fail(slot, 501, code: "not_implemented", message: "this method is not implemented", close: true)
            return buf.count
        case .notFound:
            return refuse(slot, head, buf, 404, code: "not_found", message: "no route for \(describe(head, buf))")
        case .methodNotAllowed:
            let allow = allowed(head, buf)
            return refuse(slot, head, buf, 405, code: "method_not_allowed", message: "\(describe(head, buf)) is not allowed; use \(allow)",
                          headers: "Allow: \(allow)\r\n")
        }
        let endpoint = route.endpoint, params = route.params
        http.requests.add()
        switch endpoint {
        case .uploadArtifact:
            return startUpload(Incoming(slot: slot, head: head, buf: buf, slots: slots, params: params, body: .init(start: nil, count: 0)))
        case .echo, .multiplexed:
            return upgrade(Incoming(slot: slot, head: head, buf: buf, slots: slots, params: params, body: .init(start: nil, count: 0)),
                           role: endpoint == .echo ? .echo : .events)
        case .runEvents where head.upgrade:
            return upgradeToRun(Incoming(slot: slot, head: head, buf: buf, slots: slots, params: params, body: .init(start: nil, count: 0)))
        default:
            break
        }
        var bodyBytes = UnsafeRawBufferPointer(start: nil, count: 0)
        var used = head.headLength
        if head.chunked || head.contentLength > 0 {
            var body = progress ?? RequestBody(head, limit: route.maxBody)
            if body.declaredTooLarge {
                return refuse(slot, head, buf, 413, code: "body_too_large", message: "the request body exceeds \(route.maxBody) bytes allowed here")
            }
            switch body.collect(buf) {
            case .needMore:
                if AnswerPipeline.continues(expected: head.expectContinue, bodyArrived: false, bodyWanted: true) { sendContinue(slot) }
                var h = HeldRequest(head, slots: UnsafeMutableBufferPointer(mutating: slots), route: route)
                h.slot = slot
                h.body = body
                held = h
                updateReading() // the body is read even when no new request may come
                return 0
            case .tooLarge:
                fail(slot, 413, code: "body_too_large", message: "the request body exceeds \(route.maxBody) bytes allowed here", close: true)
                return buf.count
            case .invalid(let e):
                fail(slot, e.status, code: e.code, message: e.message, close: true)
                return buf.count
            case .complete(let range, let n):
                bodyBytes = UnsafeRawBufferPointer(rebasing: buf[range])
                used = n
            }
        }
        endOfRequest()
        dispatch(endpoint, Incoming(slot: slot, head: head, buf: buf, slots: slots, params: params, body: bodyBytes))
        return used
    }

    /// Answers an error before the request's body is read. The body is then read and dropped
    /// (up to `Limits.discardBodyBytes`) so that pipelined requests behind it are answered;
    /// a larger body, an unknown one the client waits to send (`Expect: 100-continue`), or a
    /// request without keep-alive closes the connection after the answer.
    func refuse(_ slot: Slot, _ head: RequestHead, _ buf: UnsafeMutableRawBufferPointer, _ status: Int,
                code: String, message: String, headers: String = "") -> Int {
        guard head.chunked || head.contentLength > 0 else {
            fail(slot, status, code: code, message: message, headers: headers)
            endOfRequest()
            return head.headLength
        }
        var d = BodyDiscard(head, limit: limits.discardBodyBytes)
        let rest = UnsafeRawBufferPointer(rebasing: buf[head.headLength...])
        let outcome = d.isPossible && head.keepAlive ? d.skip(rest) : .close
        switch outcome {
        case .done(let used):
            fail(slot, status, code: code, message: message, headers: headers)
            endOfRequest()
            return head.headLength + used
        case .more(let used) where !head.expectContinue:
            fail(slot, status, code: code, message: message, headers: headers)
            phase = .discard(d)
            return head.headLength + used
        case .more, .close:
            fail(slot, status, code: code, message: message, headers: headers, close: true)
            return buf.count
        }
    }

    /// `Expect: 100-continue` (RFC 9110 §10.1.1): the interim answer, in the slot's place.
    private func sendContinue(_ slot: Slot) {
        writeAnswer(slot) { $0.append("HTTP/1.1 100 Continue\r\n\r\n") }
    }

    private func describe(_ head: RequestHead, _ buf: UnsafeMutableRawBufferPointer) -> String {
        let method = String(decoding: UnsafeRawBufferPointer(rebasing: buf[0..<Swift.min(buf.count, 16)]).prefix { $0 != 32 }, as: UTF8.self)
        let target = String(decoding: UnsafeRawBufferPointer(rebasing: buf[head.targetStart..<(head.targetStart + Swift.min(head.targetLength, 256))]), as: UTF8.self)
        return "\(method) \(target)"
    }
}
