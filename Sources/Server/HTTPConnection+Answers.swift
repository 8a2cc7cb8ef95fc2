import HTTP1
import Reactor

/// Writing answers: every answer goes to its slot — straight into the output when its turn
/// has come, else into a parked buffer — and ends with `complete`, which tells the pipeline
/// and carries out what follows (parked answers, a body stream, reading, closing).
extension HTTPConnection {
    /// Writes (part of) `slot`'s answer with `write`: into the output when it is the slot's
    /// turn, else into its parked buffer. Nothing is written for a dropped slot.
    @inline(__always)
    func writeAnswer(_ slot: Slot, _ write: (inout ByteBuffer) -> Void) {
        if pipeline.answerGoesOut(slot) {
            prepareOutput()
            write(&output)
            markForFlush()
        } else if pipeline.expects(slot) {
            write(&parkedAnswer(slot).bytes)
        }
    }

    /// `slot`'s answer is written; `source` streams its body after the head; `close`: the
    /// connection closes after it (a request body was left unread).
    @inline(__always)
    func complete(_ slot: Slot) {
        pipeline.answered(slot)
        if let step = pipeline.next() { runPipeline(step) } else if peerDone { runPipeline() }
    }

    func complete(_ slot: Slot, source: BodySource?, close: Bool = false) {
        if close { pipeline.finishAfter(slot) }
        let direct = pipeline.answerGoesOut(slot)
        if !direct && !pipeline.expects(slot) { source?.cancel(); return } // dropped
        pipeline.answered(slot, body: source != nil)
        if let source {
            if direct { beginBody(slot, source) } else { parkedAnswer(slot).source = source }
        }
        runPipeline()
    }

    /// Whether `slot`'s answer keeps the connection open (else it says `Connection: close`).
    @inline(__always)
    func keepsAlive(_ slot: Slot, closing: Bool = false) -> Bool { !closing && pipeline.keepsAlive(slot) }

    /// Whether `slot` answers a HEAD request (no body).
    @inline(__always)
    func isHead(_ slot: Slot) -> Bool { pipeline.isHead(slot) }

    // MARK: Kinds of answers

    /// A whole answer: `body` with `contentType` (left out for HEAD), `headers` extra lines.
    func respond(_ slot: Slot, _ status: Int, _ contentType: StaticString, _ body: UnsafeRawBufferPointer, headers: String = "") {
        let keep = keepsAlive(slot), head = isHead(slot), now = loop.now
        writeAnswer(slot) { out in
            resources.writer.head(status, contentType: contentType, contentLength: body.count, keepAlive: keep, now: now, into: &out)
            if !headers.isEmpty { out.append(string: headers) }
            resources.writer.endHead(into: &out)
            if !head { out.append(body) }
        }
        complete(slot)
    }

    /// A JSON answer built as text (cold paths: stats, readiness, publish acknowledgements).
    func respond(_ slot: Slot, _ status: Int, json: String, headers: String = "") {
        var t = json
        t.withUTF8 { respond(slot, status, "application/json", UnsafeRawBufferPointer($0), headers: headers) }
    }

    /// An answer without content (204, 302, 304), `headers` included.
    func respondEmpty(_ slot: Slot, _ status: Int, headers: String = "") {
        let keep = keepsAlive(slot), now = loop.now
        writeAnswer(slot) { out in
            resources.writer.head(status, contentType: nil, contentLength: 0, keepAlive: keep, now: now, into: &out)
            out.append(string: headers)
            resources.writer.endHead(into: &out)
        }
        complete(slot)
    }

    /// An error answer `{"error":{"code","message"}}`; `close`: the connection closes after it.
    func fail(_ slot: Slot, _ status: Int, code: String, message: String, headers: String = "", close: Bool = false) {
        http.errors.add()
        let keep = keepsAlive(slot, closing: close), head = isHead(slot), now = loop.now
        writeAnswer(slot) { out in
            resources.writer.error(status, code: code, message: message, keepAlive: keep, now: now,
                                       extraHeaders: headers, head: head, into: &out)
        }
        complete(slot, source: nil, close: close)
    }

    // MARK: Parked answers and bodies

    /// The parked buffer of `slot` (made on first use).
    func parkedAnswer(_ slot: Slot) -> ParkedAnswer {
        if let p = parked.first(where: { $0.slot == slot }) { return p }
        let p = ParkedAnswer(slot: slot)
        parked.append(p)
        return p
    }

    /// Moves `slot`'s parked answer to the output; returns its body source, if any.
    @discardableResult
    func unpark(_ slot: Slot) -> BodySource? {
        guard let i = parked.firstIndex(where: { $0.slot == slot }) else { return nil }
        let p = parked.remove(at: i)
        if !p.bytes.isEmpty {
            prepareOutput()
            output.append(UnsafeRawBufferPointer(p.bytes.readable))
            markForFlush()
        }
        return p.source
    }

    /// Starts `slot`'s body once its head is out of the output (`drained` pumps it).
    func beginBody(_ slot: Slot, _ source: BodySource) {
        body = (slot, source)
        deadline = loop.now + limits.idleTimeout
        if output.isEmpty { pumpBody() } else { markForFlush() }
    }

    /// Moves the body on, as far as the socket takes it in this iteration.
    func pumpBody() {
        guard let (slot, source) = body else { return }
        let progress = source.pump(into: fd, output: &output)
        switch progress {
        case .blocked:
            deadline = loop.now + limits.idleTimeout // a reader that stops is cut off
            awaitWritable()
        case .queued:
            deadline = loop.now + limits.idleTimeout
            markForFlush() // `drained` pumps again once the socket took it
        case .waiting:
            deadline = loop.now + limits.idleTimeout // a job runs; `bodyCanContinue` follows
        case .finished:
            body = nil
            pipeline.bodyFinished(slot)
            runPipeline()
        case .failed:
            close() // the promised length cannot be kept (peer gone, file shrank, corrupt gzip)
        }
    }
}

extension HTTPConnection: BodySourceOwner {
    /// A body source's job finished: go on (unless the socket is still flushing).
    func bodyCanContinue() {
        guard !isClosed, body != nil else { return }
        if output.isEmpty { pumpBody() }
    }
}
