import PubSub
import Reactor
import WebSocket
#if canImport(Glibc)
import Glibc
#endif

/// Run events over WebSocket: subscriptions with resume (`since`, `epoch`, `gap`), paged
/// replay of history, live delivery of shared frames, and the `/api/ws` JSON ops.
extension WebSocketConnection {
    /// Bytes of history queued per replay step; the rest follows as the socket drains.
    static let replayPage = 256 * 1024

    // MARK: Live delivery (called by the hub's fan-out)

    /// Queues the frames of `sub`'s run that this socket has not had yet; returns how many.
    @inline(__always)
    func deliver(_ sub: Subscription, _ frames: [EventFrame], _ iov: UnsafeMutableBufferPointer<iovec>, total: Int) -> Int {
        guard !closeSent, sub.replayNext == 0 else { return 0 } // a replay in progress covers them
        var first = 0
        var bytes = total
        while first < frames.count && frames[first].seq <= sub.lastSentSeq {
            bytes -= iov[first].iov_len
            first += 1
        }
        guard first < frames.count else { return 0 }
        sub.lastSentSeq = frames[frames.count - 1].seq
        write(UnsafeMutableBufferPointer(rebasing: iov[first...]), total: bytes)
        if output.readableCount > ctx.wsMaxQueuedBytes { slowConsumer() }
        return frames.count - first
    }

    /// Backpressure policy: past WS_MAX_QUEUED_BYTES the socket is closed with 1013 (try again
    /// later) and counted; the client reconnects with `since` and misses nothing.
    private func slowConsumer() {
        ctx.hub.slowConsumersClosed += 1
        close(with: 1013, reason: "send queue over WS_MAX_QUEUED_BYTES; resume with since", grace: 10)
    }

    // MARK: Subscriptions

    /// Subscribes to `runId`: `subscribed`, then (with `since` or a foreign `epoch`) a `gap`
    /// if history no longer reaches back, the replay, then live events.
    /// With Redis the run's mirror may first need a read from Redis: the subscription then
    /// completes (`subscribeLive`) when that read answers.
    func subscribe(runId: String, since: Int64?, epoch: String?) {
        let now = loop.now
        let resubscribing = subscriptions.contains { $0.run.id == runId }
        guard resubscribing || subscriptions.count + waitingSubscriptions < ctx.wsMaxSubscriptions else {
            sendError("too_many_subscriptions", "a socket may watch at most \(ctx.wsMaxSubscriptions) runs (WS_MAX_SUBSCRIPTIONS)", runId: runId)
            return
        }
        ctx.drainBus() // with several loops: this loop's replica is complete up to now
        let run = ctx.hub.registry.run(runId, create: true, now: now)!
        run.lastActivity = now
        if let redis = ctx.redis, redis.fansOut, !redis.subscribeWhenLive(self, run: run, since: since, epoch: epoch) {
            waitingSubscriptions += 1 // counted against the limit until Redis answers
            return
        }
        subscribeLive(run, since: since, epoch: epoch)
    }

    /// Subscribes to a run whose history is at hand (embedded, or a live Redis mirror).
    func subscribeLive(_ run: Run, since: Int64?, epoch: String?) {
        let runId = run.id
        if let old = subscriptions.firstIndex(where: { $0.run.id == runId }) {
            subscriptions[old].run.remove(subscriptions[old])
            subscriptions.remove(at: old)
        }
        let last = run.lastSeq
        sendText("{\"type\":\"subscribed\",\"runId\":\"\(runId)\",\"epoch\":\"\(run.epoch)\",\"seq\":\(last)}")
        let compressed = deflate.map { $0.serverMaxWindowBits == 15 } ?? false
        let sub = Subscription(run: run, owner: self, lastSentSeq: last, wantsCompressed: compressed)
        var from: Int64?
        let first = run.firstRetainedSeq
        if let epoch, epoch != run.epoch {
            // Another history: everything the client holds is void; reload from what is retained.
            sendGap(run, from: 1, to: first - 1)
            from = first
        } else if let since, since < last {
            if since + 1 < first { sendGap(run, from: since + 1, to: first - 1); from = first } else { from = since + 1 }
        }
        if let from, from <= last {
            sub.replayNext = from
            sub.lastSentSeq = from - 1
        }
        run.add(sub)
        subscriptions.append(sub)
        if sub.replayNext != 0 { replay(sub) }
    }

    func unsubscribe(runId: String) -> Bool {
        guard let i = subscriptions.firstIndex(where: { $0.run.id == runId }) else { return false }
        subscriptions[i].run.remove(subscriptions[i])
        subscriptions.remove(at: i)
        return true
    }

    func unsubscribeAll() {
        for s in subscriptions { s.run.remove(s) }
        subscriptions.removeAll()
    }

    func sendGap(_ run: Run, from: Int64, to: Int64) {
        sendText("{\"type\":\"gap\",\"runId\":\"\(run.id)\",\"epoch\":\"\(run.epoch)\",\"from\":\(from),\"to\":\(max(to, 0))}")
    }

    /// Queues up to a page of history for `sub`; `drained()` continues it.
    private func replay(_ sub: Subscription) {
        let run = sub.run
        prepareOutput()
        while sub.replayNext != 0 && output.readableCount < Self.replayPage && !closeSent {
            if sub.replayNext > run.lastSeq { sub.replayNext = 0; break }
            if let f = run.frame(seq: sub.replayNext) {
                output.append(f.frame)
                sub.lastSentSeq = f.seq
                sub.replayNext += 1
            } else { // evicted while we replayed
                let first = run.firstRetainedSeq
                sendGap(run, from: sub.replayNext, to: first - 1)
                sub.replayNext = first > run.lastSeq ? 0 : first
                sub.lastSentSeq = first - 1
            }
        }
        markForFlush()
    }

    func continueReplays() {
        for s in subscriptions where s.replayNext != 0 { replay(s) }
    }

    // MARK: Messages

    /// Sends a small JSON text message (control messages; cold path).
    func sendText(_ text: String) {
        var t = text
        t.withUTF8 { send(.text, UnsafeRawBufferPointer($0)) }
    }

    func sendError(_ code: String, _ message: String, runId: String? = nil) {
        let run = runId.map { ",\"runId\":\(jsonString($0))" } ?? ""
        sendText("{\"type\":\"error\",\"code\":\"\(code)\",\"message\":\(jsonString(message))\(run)}")
    }

    // MARK: /api/ws ops

    /// One client message on an events socket: `subscribe`, `unsubscribe` or `publish`.
    func handleOp(_ opcode: WebSocketOpcode, _ payload: UnsafeRawBufferPointer) {
        guard opcode == .text else { sendError("bad_message", "send JSON text messages"); return }
        guard case .success(let top) = JSONScanner.validate(payload), top.kind == .object else {
            sendError("invalid_json", "a message must be a JSON object like {\"op\":\"subscribe\",\"runId\":\"r1\"}")
            return
        }
        var op: Range<Int>?, runId: Range<Int>?, since: Range<Int>?, epoch: Range<Int>?, data: Range<Int>?, token: Range<Int>?
        JSONScanner.forEachMember(in: payload, object: top.range) { key, value in
            let k = UnsafeRawBufferPointer(rebasing: payload[key])
            if k.elementsEqual("op".utf8) { op = value }
            else if k.elementsEqual("runId".utf8) { runId = value }
            else if k.elementsEqual("since".utf8) { since = value }
            else if k.elementsEqual("epoch".utf8) { epoch = value }
            else if k.elementsEqual("data".utf8) { data = value }
            else if k.elementsEqual("token".utf8) { token = value }
        }
        func text(_ r: Range<Int>?) -> UnsafeRawBufferPointer? {
            guard let r, payload[r.lowerBound] == UInt8(ascii: "\""), r.count >= 2 else { return nil }
            return UnsafeRawBufferPointer(rebasing: payload[(r.lowerBound + 1)..<(r.upperBound - 1)])
        }
        guard let opRange = op, let opText = text(opRange) else {
            sendError("unknown_op", "a message needs \"op\": subscribe, unsubscribe or publish")
            return
        }
        let name = String(decoding: opText, as: UTF8.self)
        guard ["subscribe", "unsubscribe", "publish"].contains(name) else {
            sendError("unknown_op", "unknown op '\(name.prefix(64))': use subscribe, unsubscribe or publish")
            return
        }
        guard let idBytes = text(runId), let id = RunID.parse(idBytes) else {
            sendError("invalid_id", "runId must match [A-Za-z0-9_.-]{1,128}")
            return
        }
        switch name {
        case "subscribe":
            if ctx.tokenSecret != nil {
                var refusal: SubscriberToken.Refusal?
                if let t = text(token) {
                    refusal = ctx.refuseSubscriber(t, runId: id)
                } else if var h = handshakeToken {
                    refusal = h.withUTF8 { ctx.refuseSubscriber(UnsafeRawBufferPointer($0), runId: id) }
                } else {
                    refusal = .missing
                }
                if let refusal { sendError(refusal.code, refusal.message, runId: id); return }
            }
            var sinceValue: Int64?
            if let since {
                guard let n = JSONScanner.nonNegativeInteger(payload, since) else {
                    sendError("invalid_since", "since must be a non-negative integer", runId: id)
                    return
                }
                sinceValue = n
            }
            var epochValue: String?
            if let epoch {
                guard let e = text(epoch) else { sendError("invalid_epoch", "epoch must be a string", runId: id); return }
                epochValue = String(decoding: e, as: UTF8.self)
            }
            subscribe(runId: id, since: sinceValue, epoch: epochValue)
        case "unsubscribe":
            if unsubscribe(runId: id) { sendText("{\"type\":\"unsubscribed\",\"runId\":\"\(id)\"}") }
            else { sendError("not_subscribed", "this socket is not subscribed to \(id)", runId: id) }
        default:
            guard isPublisher else { sendError("forbidden", "this socket did not present a publisher key", runId: id); return }
            guard let data, JSONScanner.kind(at: data.lowerBound, in: payload) == .object else {
                sendError("invalid_data", "publish needs \"data\": a JSON object", runId: id)
                return
            }
            let value = UnsafeRawBufferPointer(rebasing: payload[data])
            if let redis = ctx.redis, redis.fansOut {
                redis.publish(id, [Array(value)], finishes: EventBody.finishesRun(value)) { [self] result in
                    guard !isClosed, !closeSent else { return }
                    switch result {
                    case .success(let seqs): sendText("{\"type\":\"published\",\"runId\":\"\(id)\",\"seq\":\(seqs.last)}")
                    case .failure(.unavailable(let why)): sendError("redis_unavailable", "Redis is unreachable (\(why)); nothing was published, retry later", runId: id)
                    case .failure(.lost): sendError("redis_unavailable", "the Redis connection was lost before it answered; the event may or may not have been published", runId: id)
                    case .failure(.failed(let e)): sendError("redis_error", "Redis answered with an error: \(e)", runId: id)
                    }
                }
                return
            }
            let seq = ctx.hub.publish(UnsafeRawBufferPointer(payload), [data], to: id, now: loop.now).last
            sendText("{\"type\":\"published\",\"runId\":\"\(id)\",\"seq\":\(seq)}")
        }
    }
}
