import HTTP1
import PubSub
import Reactor

/// The run-event endpoints over plain HTTP: publish, history, and the WebSocket handshakes
/// (the single-run socket's query carries `since` and `epoch`). Publishes and history reads
/// go to the loop's run backend, which answers at once or later (`backendAnswered`).
extension HTTPConnection {
    /// `POST /api/tests/{runId}/events`: one object or an array, published in order → 201.
    func publish(_ r: Incoming) {
        switch ctx.auth.publisherKey(r.head, r.raw, slots: r.slots) {
        case nil: return fail(r.slot, 401, code: "unauthorized", message: "publishing needs an API key: Authorization: Bearer <key>")
        case false?: return fail(r.slot, 403, code: "forbidden", message: "the API key is not valid")
        default: break
        }
        guard let id = RunID.parse(r.param(0)) else {
            return fail(r.slot, 400, code: "invalid_id", message: "runId must match [A-Za-z0-9_.-]{1,128}")
        }
        if let problem = EventBody.objects(r.body, into: &resources.eventRanges) {
            return fail(r.slot, 400, code: "invalid_json", message: problem)
        }
        let batch = PublishBatch(runId: id, body: r.body, ranges: resources.eventRanges, now: loop.now)
        if let answer = ctx.backend.publish(batch, waiter: self, tag: r.slot) {
            answerPublish(r.slot, runId: id, answer)
        } else {
            waitingBackend.append((r.slot, id, false))
        }
    }

    /// `201 {"runId":"r1","first":1,"last":2}`, written without a String.
    private func answerPublish(_ slot: Slot, runId id: String, _ answer: BackendAnswer) {
        guard case .published(let first, let last) = answer else { return answerFailure(slot, runId: id, answer) }
        let keep = keepsAlive(slot), head = isHead(slot), now = loop.now
        var runId = id
        runId.withUTF8 { idBytes in
            let length = 10 + idBytes.count + 10 + Self.digits(first) + 8 + Self.digits(last) + 1
            writeAnswer(slot) { out in
                resources.writer.head(201, contentType: "application/json", contentLength: length, keepAlive: keep, now: now, into: &out)
                resources.writer.endHead(into: &out)
                guard !head else { return }
                out.append("{\"runId\":\"")
                out.append(UnsafeRawBufferPointer(idBytes))
                out.append("\",\"first\":")
                out.append(decimal: Int(first))
                out.append(",\"last\":")
                out.append(decimal: Int(last))
                out.append(byte: UInt8(ascii: "}"))
            }
        }
        complete(slot)
    }

    @inline(__always)
    private static func digits(_ v: Int64) -> Int {
        var n = 1, t = v
        while t >= 10 { t /= 10; n += 1 }
        return n
    }

    /// A failed backend operation: 404 for an unknown run, else 503 with Retry-After (the
    /// caller may retry; `lost` says the publish may have happened).
    private func answerFailure(_ slot: Slot, runId id: String, _ answer: BackendAnswer) {
        let message: String
        switch answer {
        case .history(nil):
            return fail(slot, 404, code: "run_not_found", message: "no events were published to \(id) (or its history expired)")
        case .failed(.unavailable(let why)): message = "Redis is unreachable (\(why)); nothing was done, retry later"
        case .failed(.lost): message = "the Redis connection was lost before it answered; the events may or may not have been published (check the run's history before retrying)"
        case .failed(.failed(let e)): message = "Redis answered with an error: \(e)"
        case .published, .history: message = "unexpected answer"
        }
        fail(slot, 503, code: "redis_unavailable", message: message, headers: "Retry-After: 1\r\n")
    }

    /// `GET /api/tests/{runId}/events?since=N&limit=M`: retained events after N as JSON.
    func history(_ r: Incoming) {
        guard let id = RunID.parse(r.param(0)) else {
            return fail(r.slot, 400, code: "invalid_id", message: "runId must match [A-Za-z0-9_.-]{1,128}")
        }
        let query = r.query
        guard case .success(let sinceValue) = query.integer("since"), case .success(let limitValue) = query.integer("limit") else {
            return fail(r.slot, 400, code: "invalid_query", message: "since and limit must be non-negative integers")
        }
        // With TOKEN_SECRET, reading history needs what subscribing needs (or a publisher key).
        if !ctx.auth.isPublisher(r.head, r.raw, slots: r.slots), let refusal = ctx.auth.refuseSubscriber(query.value("token"), runId: id) {
            return fail(r.slot, refusal.status, code: refusal.code, message: refusal.message)
        }
        let limit = Int(min(max(limitValue ?? 1000, 1), 10_000))
        if let answer = ctx.backend.history(id, since: sinceValue ?? 0, limit: limit, now: loop.now, waiter: self, tag: r.slot) {
            answerHistory(r.slot, runId: id, answer)
        } else {
            waitingBackend.append((r.slot, id, true))
        }
    }

    /// The history answer: `{"runId",…,"events":[` + each event message + `]}`.
    private func answerHistory(_ slot: Slot, runId id: String, _ answer: BackendAnswer) {
        guard case .history(let page?) = answer else { return answerFailure(slot, runId: id, answer) }
        var body = ByteBuffer()
        body.append(string: "{\"runId\":\"\(id)\",\"epoch\":\"\(page.epoch)\",\"seq\":\(page.seq),\"firstSeq\":\(page.firstSeq),\"events\":[")
        for (i, e) in page.events.enumerated() {
            if i > 0 { body.append(byte: UInt8(ascii: ",")) }
            body.append(e.message)
        }
        body.append("]}")
        respond(slot, 200, "application/json", UnsafeRawBufferPointer(body.readable))
    }

    /// `GET /api/tests/{runId}/events` with Upgrade: a socket subscribed to that run.
    func upgradeToRun(_ r: Incoming) -> Int {
        guard let id = RunID.parse(r.param(0)) else {
            fail(r.slot, 400, code: "invalid_id", message: "runId must match [A-Za-z0-9_.-]{1,128}", close: true)
            return r.buf.count
        }
        let query = r.query
        guard case .success(let since) = query.integer("since") else {
            fail(r.slot, 400, code: "invalid_query", message: "since must be a non-negative integer", close: true)
            return r.buf.count
        }
        if let refusal = ctx.auth.refuseSubscriber(query.value("token"), runId: id) {
            fail(r.slot, refusal.status, code: refusal.code, message: refusal.message, close: true)
            return r.buf.count
        }
        return upgrade(r, role: .events, subscribe: (id, since, query.string("epoch")))
    }

    /// Switches to WebSocket (or answers why not, then closes). Every earlier answer is out
    /// (the pipeline admits an upgrade only then), so the 101 goes straight to the output; the
    /// new connection takes the socket and whatever the client sent after the handshake.
    func upgrade(_ r: Incoming, role: WebSocketConnection.Role,
                 subscribe: (runId: String, since: Int64?, epoch: String?)? = nil) -> Int {
        var publisher = false
        var token: String?
        if role == .events {
            publisher = ctx.auth.publisherKey(r.head, r.raw, slots: r.slots) ?? false
            token = r.query.string("token")
        }
        let agreement: WebSocketUpgrade.Agreement
        do {
            prepareOutput()
            agreement = try WebSocketUpgrade.accept(r.head, r.raw, slots: r.slots, limits: limits, into: &output)
        } catch {
            fail(r.slot, error.status, code: error.code, message: error.message, headers: error.headers, close: true)
            return r.buf.count
        }
        let ws = WebSocketConnection(fd: fd, ctx: ctx, role: role, deflate: agreement.deflate)
        http.connections.add(-1)
        ctx.ws.opened(1)
        handOver(to: ws)
        ws.deadline = loop.now + limits.wsPingInterval
        ws.isPublisher = publisher
        if let token { ws.pending.handshakeToken = token }
        if let subscribe { ws.subscribe(runId: subscribe.runId, since: subscribe.since, epoch: subscribe.epoch) }
        let rest = r.buf.count - r.head.headLength
        if rest > 0 {
            let more = UnsafeMutableRawBufferPointer(rebasing: r.buf[r.head.headLength...])
            let used = ws.received(more)
            if used < rest && !ws.isClosed { ws.input.append(UnsafeRawBufferPointer(rebasing: more[used...])) }
        }
        return r.buf.count
    }
}

extension HTTPConnection: BackendWaiter {
    /// A publish or history answer the backend made later (in the order asked).
    func backendAnswered(_ tag: UInt32, _ answer: BackendAnswer) {
        guard let i = waitingBackend.firstIndex(where: { $0.slot == tag }) else { return }
        let w = waitingBackend.remove(at: i)
        guard !isClosed else { return }
        if w.history { answerHistory(w.slot, runId: w.runId, answer) } else { answerPublish(w.slot, runId: w.runId, answer) }
    }
}
