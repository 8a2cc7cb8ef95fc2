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

    // MARK: Live delivery (called by the run's fan-out)

    /// Queues `batch.events[first...]` for one of this socket's subscriptions; returns how
    /// many went out. The frames are shared: one `writev` pointing at them, copied only for
    /// what the kernel does not take.
    @inline(__always)
    func deliver(_ batch: FanOutBatch, from first: Int, compressed: Bool) -> Int {
        guard !closeSent else { return 0 }
        let (iov, total) = compressed
            ? frames.deflated(batch, using: ctx.resources.compressor(windowBits: 15))
            : frames.plain(batch)
        var bytes = total
        var i = 0
        while i < first { bytes -= iov[i].iov_len; i += 1 }
        // How far behind the subscriber is: what it had not taken before this batch.
        let behind = output.readableCount
        write(UnsafeMutableBufferPointer(rebasing: iov[first..<batch.events.count]), total: bytes)
        if behind > ctx.limits.wsMaxQueuedBytes { slowConsumer() }
        return batch.events.count - first
    }

    /// Backpressure policy: a subscriber more than WS_MAX_QUEUED_BYTES behind (bytes queued
    /// for it before the latest batch, which the kernel would not take) is closed with 1013
    /// (try again later) and counted; it reconnects with `since` and misses nothing. One batch
    /// larger than the bound does not count against a subscriber that reads.
    private func slowConsumer() {
        ctx.ws.slowConsumersClosed.add()
        close(with: CloseCode.tryAgainLater, reason: "send queue over WS_MAX_QUEUED_BYTES; resume with since", grace: 10)
    }

    // MARK: Subscriptions

    /// Subscribes to `runId`: `subscribed`, then (with `since` or a foreign `epoch`) a `gap`
    /// if history no longer reaches back, the replay, then live events. The run may first
    /// need to be read (Redis): the subscription then completes in `runReady`.
    func subscribe(runId: String, since: Int64?, epoch: String?) {
        let resubscribing = subscriptions.contains { $0.run.id == runId }
        guard resubscribing || subscriptions.count + waitingSubscriptions < ctx.limits.wsMaxSubscriptions else {
            sendError("too_many_subscriptions", "a socket may watch at most \(ctx.limits.wsMaxSubscriptions) runs (WS_MAX_SUBSCRIPTIONS)", runId: runId)
            return
        }
        guard let run = ctx.backend.subscribe(runId, now: loop.now, waiter: self, since: since, epoch: epoch) else {
            pending.subscriptions += 1 // counted against the limit until the run is ready
            return
        }
        subscribeLive(run, since: since, epoch: epoch)
    }

    /// Subscribes to a run whose history is at hand.
    func subscribeLive(_ run: Run, since: Int64?, epoch: String?) {
        let runId = run.id
        if let old = subscriptions.firstIndex(where: { $0.run.id == runId }) {
            run.remove(subscriptions[old])
            subscriptions.remove(at: old)
        }
        sendText("{\"type\":\"subscribed\",\"runId\":\"\(runId)\",\"epoch\":\"\(run.epoch)\",\"seq\":\(run.lastSeq)}")
        let resume = run.resume(since: since, epoch: epoch)
        if let gap = resume.gap { sendGap(run, from: gap.from, to: gap.to) }
        let sub = WebSocketSubscription(run: run, socket: self, compressed: deflate.map { $0.serverMaxWindowBits == 15 } ?? false)
        run.add(sub, resume)
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
    private func replay(_ sub: WebSocketSubscription) {
        prepareOutput()
        replaying: while output.readableCount < Self.replayPage && !closeSent {
            switch sub.nextReplay() {
            case .event(let e): output.append(EventFrames.plain(e))
            case .gap(let from, let to): sendGap(sub.run, from: from, to: to)
            case .done: break replaying
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
            if ctx.auth.tokenSecret != nil {
                var refusal: SubscriberToken.Refusal?
                if let t = text(token) {
                    refusal = ctx.auth.refuseSubscriber(t, runId: id)
                } else if var h = handshakeToken {
                    refusal = h.withUTF8 { ctx.auth.refuseSubscriber(UnsafeRawBufferPointer($0), runId: id) }
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
            let batch = PublishBatch(runId: id, body: payload, ranges: [data], now: loop.now)
            if let answer = ctx.backend.publish(batch, waiter: self, tag: 0) {
                answered(answer, runId: id)
            } else {
                pending.publishes.append(id)
            }
        }
    }

    /// The answer to one publish op.
    private func answered(_ answer: BackendAnswer, runId id: String) {
        if !isClosed && !closeSent {
            switch answer {
            case .published(_, let last): sendText("{\"type\":\"published\",\"runId\":\"\(id)\",\"seq\":\(last)}")
            case .failed(.unavailable(let why)): sendError("redis_unavailable", "Redis is unreachable (\(why)); nothing was published, retry later", runId: id)
            case .failed(.lost): sendError("redis_unavailable", "the Redis connection was lost before it answered; the event may or may not have been published", runId: id)
            case .failed(.failed(let e)): sendError("redis_error", "Redis answered with an error: \(e)", runId: id)
            case .history: break
            }
        }
        if let p = pendingState, p.closeWhenAnswered && p.publishes.isEmpty && !isClosed {
            close(with: CloseCode.goingAway, reason: "server shutting down")
        }
    }
}

extension WebSocketConnection: BackendWaiter, RunWaiter {
    /// A publish op's later answer (they come in the order the ops were sent).
    func backendAnswered(_ tag: UInt32, _ answer: BackendAnswer) {
        guard hasUnansweredPublishes else { return }
        answered(answer, runId: pending.publishes.removeFirst())
    }

    /// A subscription that waited for its run (Redis read it) completes.
    func runReady(_ run: Run, since: Int64?, epoch: String?) {
        pending.subscriptions -= 1
        if !isClosed && !closeSent { subscribeLive(run, since: since, epoch: epoch) }
    }
}
