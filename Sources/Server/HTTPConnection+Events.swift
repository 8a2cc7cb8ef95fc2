import HTTP1
import PubSub
import Reactor

/// The run-event endpoints over plain HTTP: publish, history, and the single-run socket's
/// handshake (its query carries `since` and `epoch`).
extension HTTPConnection {
    /// `POST /api/tests/{runId}/events`: one object or an array, published in order → 201.
    func publish(_ head: RequestHead, _ buf: UnsafeMutableRawBufferPointer, runId: UnsafeRawBufferPointer,
                 body: UnsafeRawBufferPointer) {
        switch ctx.hasPublisherKey(head, UnsafeRawBufferPointer(buf)) {
        case nil:
            return reply(401, error: "unauthorized", "publishing needs an API key: Authorization: Bearer <key>", head)
        case false?:
            return reply(403, error: "forbidden", "the API key is not valid", head)
        default: break
        }
        guard let id = RunID.parse(runId) else {
            return reply(400, error: "invalid_id", "runId must match [A-Za-z0-9_.-]{1,128}", head)
        }
        if let problem = EventBody.objects(body, into: &ctx.eventRanges) {
            return reply(400, error: "invalid_json", problem, head)
        }
        if let redis = ctx.redis, redis.fansOut {
            return publishThroughRedis(redis, head, runId: id, body: body)
        }
        let seqs = ctx.hub.publish(body, ctx.eventRanges, to: id, now: loop.now)
        respond(201, json: "{\"runId\":\"\(id)\",\"first\":\(seqs.first),\"last\":\(seqs.last)}", head)
    }

    /// Publishing with Redis: one script call assigns the seqs and publishes the batch; the
    /// connection waits for it (later pipelined requests are read afterwards). While Redis is
    /// unreachable the answer is 503 with Retry-After: nothing was published.
    private func publishThroughRedis(_ redis: RedisHub, _ head: RequestHead, runId id: String, body: UnsafeRawBufferPointer) {
        guard redis.link.commandReady else {
            if !deferredBehindAsync() { fail(.unavailable(redis.link.problem), head) }
            return
        }
        var finishes = false
        let bodies = ctx.eventRanges.map { r -> [UInt8] in
            let object = UnsafeRawBufferPointer(rebasing: body[r])
            if EventBody.finishesRun(object) { finishes = true }
            return Array(object)
        }
        beginAsync(keepAlive: head.keepAlive)
        redis.publish(id, bodies, finishes: finishes) { [self] result in
            guard !isClosed else { return endAsync(keepAlive: false) }
            switch result {
            case .success(let seqs):
                respond(201, json: "{\"runId\":\"\(id)\",\"first\":\(seqs.first),\"last\":\(seqs.last)}", head)
            case .failure(let f):
                fail(f, head)
            }
            endAsync(keepAlive: head.keepAlive)
        }
    }

    /// Answers a failed Redis operation: 503 with Retry-After (the caller may retry).
    func fail(_ f: RedisHub.Failure, _ head: RequestHead) {
        let message: String
        switch f {
        case .unavailable(let why): message = "Redis is unreachable (\(why)); nothing was done, retry later"
        case .lost: message = "the Redis connection was lost before it answered; the events may or may not have been published (check the run's history before retrying)"
        case .failed(let e): message = "Redis answered with an error: \(e)"
        }
        fail(503, code: "redis_unavailable", message: message, extraHeaders: "Retry-After: 1\r\n",
             head: head.method == .head, keepAlive: head.keepAlive)
    }

    /// `GET /api/tests/{runId}/events?since=N&limit=M`: retained events after N as JSON.
    func history(_ head: RequestHead, _ buf: UnsafeMutableRawBufferPointer, runId: UnsafeRawBufferPointer) {
        guard let id = RunID.parse(runId) else {
            return reply(400, error: "invalid_id", "runId must match [A-Za-z0-9_.-]{1,128}", head)
        }
        let query = Query(bytes: head.query(in: UnsafeRawBufferPointer(buf)) ?? UnsafeRawBufferPointer(start: nil, count: 0))
        guard case .success(let sinceValue) = query.integer("since"), case .success(let limitValue) = query.integer("limit") else {
            return reply(400, error: "invalid_query", "since and limit must be non-negative integers", head)
        }
        // With TOKEN_SECRET, reading history needs what subscribing needs (or a publisher key).
        let publisher = !ctx.apiKeys.isEmpty && ctx.hasPublisherKey(head, UnsafeRawBufferPointer(buf)) == true
        if !publisher, let refusal = ctx.refuseSubscriber(query.value("token"), runId: id) {
            return reply(refusal.status, error: refusal.code, refusal.message, head)
        }
        let since = sinceValue ?? 0
        let limit = Int(min(max(limitValue ?? 1000, 1), 10_000))
        if let redis = ctx.redis, redis.fansOut {
            return historyThroughRedis(redis, head, runId: id, since: since, limit: limit)
        }
        ctx.drainBus() // what other loops published so far
        guard let run = ctx.hub.registry.run(id, create: false, now: loop.now) else {
            return reply(404, error: "run_not_found", "no events were published to \(id) (or its history expired)", head)
        }
        let firstSeq = run.firstRetainedSeq
        var seq = max(since + 1, firstSeq)
        var n = 0
        respondHistory(id, epoch: run.epoch, seq: run.lastSeq, firstSeq: firstSeq, head) { body in
            while seq <= run.lastSeq && n < limit, let f = run.frame(seq: seq) {
                if n > 0 { body.append(byte: UInt8(ascii: ",")) }
                body.append(f.payload)
                seq += 1
                n += 1
            }
        }
    }

    /// The history answer: `{"runId",…,"events":[` + what `events` appends + `]}`.
    private func respondHistory(_ id: String, epoch: String, seq: Int64, firstSeq: Int64, _ head: RequestHead,
                                events: (inout ByteBuffer) -> Void) {
        var body = ByteBuffer()
        body.append(string: "{\"runId\":\"\(id)\",\"epoch\":\"\(epoch)\",\"seq\":\(seq),\"firstSeq\":\(firstSeq),\"events\":[")
        events(&body)
        body.append("]}")
        respond(200, "application/json", UnsafeRawBufferPointer(body.readable), head)
    }

    private func historyThroughRedis(_ redis: RedisHub, _ head: RequestHead, runId id: String, since: Int64, limit: Int) {
        guard redis.link.commandReady else {
            if !deferredBehindAsync() { fail(.unavailable(redis.link.problem), head) }
            return
        }
        beginAsync(keepAlive: head.keepAlive)
        redis.history(id, since: since, limit: limit) { [self] result in
            guard !isClosed else { return endAsync(keepAlive: false) }
            switch result {
            case .success(nil):
                fail(404, code: "run_not_found", message: "no events were published to \(id) (or its history expired)",
                     head: head.method == .head, keepAlive: head.keepAlive)
            case .success(let h?):
                respondHistory(id, epoch: h.epoch, seq: h.seq, firstSeq: h.firstSeq, head) { body in
                    for (i, e) in h.events.enumerated() {
                        if i > 0 { body.append(byte: UInt8(ascii: ",")) }
                        e.withUnsafeBytes { body.append($0) }
                    }
                }
            case .failure(let f):
                fail(f, head)
            }
            endAsync(keepAlive: head.keepAlive)
        }
    }

    /// `GET /api/tests/{runId}/events` with Upgrade: a socket subscribed to that run.
    func upgradeToRun(_ head: RequestHead, _ buf: UnsafeMutableRawBufferPointer, runId: UnsafeRawBufferPointer) -> Int {
        guard let id = RunID.parse(runId) else {
            reply(400, error: "invalid_id", "runId must match [A-Za-z0-9_.-]{1,128}", head, close: true)
            return -1
        }
        let query = Query(bytes: head.query(in: UnsafeRawBufferPointer(buf)) ?? UnsafeRawBufferPointer(start: nil, count: 0))
        guard case .success(let since) = query.integer("since") else {
            reply(400, error: "invalid_query", "since must be a non-negative integer", head, close: true)
            return -1
        }
        if let refusal = ctx.refuseSubscriber(query.value("token"), runId: id) {
            reply(refusal.status, error: refusal.code, refusal.message, head, close: true)
            return -1
        }
        return upgrade(head, buf, role: .events, subscribe: (id, since, query.string("epoch")))
    }

    /// A JSON error reply on a request that otherwise went well (keep-alive kept unless `close`).
    func reply(_ status: Int, error code: String, _ message: String, _ head: RequestHead, close: Bool = false) {
        if deferredBehindAsync() { return }
        fail(status, code: code, message: message, head: head.method == .head, keepAlive: head.keepAlive && !close)
    }
}
