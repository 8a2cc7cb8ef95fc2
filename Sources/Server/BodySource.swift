import Reactor

/// Whatever streams a response body after its head: stored bytes with `sendfile`, gzip
/// inflated on the worker pool (and later SSE, and TLS where `sendfile` cannot be used).
///
/// The connection drives it: `pump` once the head is out of the output buffer, again each time
/// the socket drained or became writable, and when the source says a job of its own finished
/// (`BodySourceOwner.bodyCanContinue`). The source writes either straight to the socket
/// (`sendfile`) or into the output buffer, and says what now; it never touches the connection.
protocol BodySource: AnyObject {
    /// Moves the body on, within this iteration's budget.
    func pump(into socket: Int32, output: inout ByteBuffer) -> BodyProgress
    /// The connection went away: release what is held (the file), once no job runs.
    func cancel()
}

/// What a `BodySource.pump` did.
enum BodyProgress {
    /// The socket would block or the budget is spent: pump again once it is writable.
    case blocked
    /// Bytes went into the output buffer: pump again once they are written.
    case queued
    /// A job runs on the worker pool: `bodyCanContinue` follows.
    case waiting
    /// The whole body is out.
    case finished
    /// The promised length cannot be kept (the peer is gone, the file shrank, corrupt gzip):
    /// close the connection.
    case failed
}

/// The connection a body source belongs to.
protocol BodySourceOwner: AnyObject {
    /// A job of the source finished: pump it again.
    func bodyCanContinue()
}
