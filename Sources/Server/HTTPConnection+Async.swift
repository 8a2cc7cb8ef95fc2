import HTTP1
import Reactor

/// Answers made off the loop (disk work on the worker pool; Redis answers have their own
/// `beginAsync`/`endAsync` in HTTPConnection.swift): the connection stops reading,
/// the answer is written when the job's result comes back, and then the requests that arrived
/// meanwhile are parsed from the input buffer, in order.
extension HTTPConnection {
    /// Whether the connection stays open after the pending answer.
    var answerKeepsAlive: Bool { pendingKeepAlive && !closeWhenAnswered }

    /// Marks the current request's answer as pending.
    func awaitOffLoop(_ head: RequestHead) {
        busy = Busy.waiting
        pendingKeepAlive = head.keepAlive
        pendingHead = head.method == .head
        hold()
    }

    /// Writes the pending answer as JSON, then goes on with later requests.
    func answerOffLoop(_ status: Int, json: String) {
        guard !isClosed else { return }
        var t = json
        t.withUTF8 { respond(status, "application/json", UnsafeRawBufferPointer($0), keepAlive: answerKeepsAlive, isHead: pendingHead) }
        resumeRequests()
    }

    /// Writes the pending answer with no body (204, 302, 304), `extraHeaders` included.
    func answerOffLoopEmpty(_ status: Int, extraHeaders: String = "") {
        guard !isClosed else { return }
        prepareOutput()
        ctx.writer.head(status, contentType: nil, contentLength: 0, keepAlive: answerKeepsAlive, now: loop.now, into: &output)
        output.append(string: extraHeaders)
        ctx.writer.endHead(into: &output)
        markForFlush()
        resumeRequests()
    }

    /// Writes the pending answer as an error; `close` when the request's body was not consumed.
    func failOffLoop(_ status: Int, code: String, message: String, close: Bool = false, extraHeaders: String = "") {
        guard !isClosed else { return }
        let keep = answerKeepsAlive && !close
        fail(status, code: code, message: message, extraHeaders: extraHeaders, head: pendingHead, keepAlive: keep)
        if keep { resumeRequests() }
    }

    /// The file body went out completely.
    func transferFinished() {
        transfer = nil
        resumeRequests()
    }

    /// Back to parsing: closes when the answer said so, else parses what arrived meanwhile.
    func resumeRequests() {
        busy = 0
        session = nil
        inRequest = false
        sentContinue = false
        if !answerKeepsAlive { finish(); return }
        deadline = loop.now + ctx.idleTimeout
        release() // reads on, first parsing what arrived meanwhile
    }
}

/// Carries a loop-confined value through a `@Sendable` closure that hands it back to the same
/// loop (the worker pool's completion runs on the submitting loop's thread).
struct LoopBound<T>: @unchecked Sendable {
    let value: T
}

extension HTTPConnection {
    /// Runs `work` on the worker pool, then `then` with its result on this connection's loop.
    func offLoop<T: Sendable>(_ work: @escaping @Sendable () -> T, then: @escaping (T) -> Void) {
        let box = LoopBound(value: then)
        ctx.server.pool.submit(on: loop, work) { result in box.value(result) }
    }
}
