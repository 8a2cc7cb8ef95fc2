/// What the frame parser found, for the I/O shell to act on (RFC 6455 §5, §6.2).
///
/// Every case except `.fail` says how many bytes of the buffer given to `parse` were
/// consumed: the shell drops those and calls `parse` again with the rest (plus whatever
/// it reads next). Payload pointers are valid until the next call to `parse` or
/// `releaseBuffer()` on the same parser, and — when they point into the input buffer —
/// until the shell moves or overwrites those input bytes.
public enum WebSocketParseAction {
    /// No complete message or control frame yet; `consumed` bytes were taken (possibly 0,
    /// possibly all). Keep the rest and call again when more bytes arrive.
    case needMore(consumed: Int)
    /// A complete data message (`.text` or `.binary`). Text is already UTF-8 validated unless
    /// `compressed` (RFC 7692: validate after inflating; `PerMessageInflater` does it).
    case message(opcode: WebSocketOpcode, payload: UnsafeRawBufferPointer, compressed: Bool, consumed: Int)
    /// A ping: answer with a pong echoing `payload` (RFC 6455 §5.5.2).
    case ping(payload: UnsafeRawBufferPointer, consumed: Int)
    /// A pong (RFC 6455 §5.5.3); unsolicited pongs are allowed and need no answer.
    case pong(payload: UnsafeRawBufferPointer, consumed: Int)
    /// A valid close frame (RFC 6455 §5.5.1): `code` is nil for an empty payload; `reason` is
    /// valid UTF-8. Echo a close (with the same code, or none) and close the socket once it is
    /// written. The parser ignores every byte after a close.
    case close(code: UInt16?, reason: UnsafeRawBufferPointer, consumed: Int)
    /// The peer broke the protocol: send a close frame with `code` (`reason` may go in it)
    /// and close the connection (RFC 6455 §7.1.7). Later calls return the same failure.
    case fail(code: UInt16, reason: StaticString)

    /// Bytes consumed from the buffer handed to `parse` (0 for `.fail`: stop reading).
    @inlinable
    public var consumed: Int {
        switch self {
        case .needMore(let n), .message(_, _, _, let n), .ping(_, let n), .pong(_, let n), .close(_, _, let n):
            return n
        case .fail:
            return 0
        }
    }
}
