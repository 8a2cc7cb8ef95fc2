import CShimZlib

/// The outcome of inflating one message.
public enum InflateResult {
    /// The decompressed message; valid until the next `inflate` or `release()`.
    case message(UnsafeRawBufferPointer)
    /// Fail the connection with `code` (1009 over the limit, 1007 corrupt data or bad UTF-8).
    case fail(code: UInt16, reason: StaticString)
}

/// Decompresses permessage-deflate messages from one peer (RFC 7692 §7.2.2).
///
/// Output goes into a reusable buffer bounded by `maxMessageSize`: a decompression bomb
/// fails with 1009 as soon as it passes the bound, having used at most that much memory.
/// The inflater always decodes with a 15-bit window, which reads any smaller window the
/// peer was allowed (and tolerates zlib peers that turn 8 into 9). Without context
/// takeover the zlib stream is freed after each message so an idle socket holds none.
public final class PerMessageInflater {
    /// When true (the peer's `*_no_context_takeover`), no state is kept between messages.
    public let noContextTakeover: Bool
    /// The largest decompressed message accepted.
    public let maxMessageSize: Int
    var stream: OpaquePointer?
    var output = MessageBuffer()

    /// An inflater for messages from a peer.
    public init(noContextTakeover: Bool, maxMessageSize: Int = 16 << 20) {
        self.noContextTakeover = noContextTakeover
        self.maxMessageSize = maxMessageSize
    }

    deinit { CShim_z_free(stream) }

    /// Whether a zlib stream is currently allocated.
    public var holdsStream: Bool { stream != nil }

    /// Inflates one message's payload (as delivered by the parser with `compressed: true`).
    /// Text (`isText`) is UTF-8 validated after inflating (RFC 7692 §6.1, RFC 6455 §8.1).
    public func inflate(_ payload: UnsafeRawBufferPointer, isText: Bool) -> InflateResult {
        if stream == nil {
            stream = CShim_inflate_new(-15)
            if stream == nil { return .fail(code: CloseCode.internalError, reason: "inflater allocation failed") }
        }
        output.removeAll()
        output.reserve(min(max(payload.count &* 4, 1024), maxMessageSize &+ 1), exactly: true)
        var ended = false
        var failure = run(payload, ended: &ended)
        if failure == nil && !ended {
            // RFC 7692 §7.2.2: append 0x00 0x00 0xff 0xff to the payload before inflating.
            var tail: UInt32 = UInt32(bigEndian: 0x0000_FFFF)
            failure = withUnsafeBytes(of: &tail) { run($0, ended: &ended) }
        }
        if let failure {
            dropStream()
            return failure
        }
        if noContextTakeover { dropStream() } else if ended { _ = CShim_z_reset(stream) }
        if isText && !UTF8Validator.validate(output.bytes) {
            return .fail(code: CloseCode.invalidPayload, reason: "invalid UTF-8 in text message")
        }
        return .message(output.bytes)
    }

    /// Feeds `input` through zlib, growing the output up to the bound.
    func run(_ input: UnsafeRawBufferPointer, ended: inout Bool) -> InflateResult? {
        let limit = maxMessageSize &+ 1  // one byte more than allowed proves the bomb
        var offset = 0
        while true {
            if output.count == output.capacity {
                if output.capacity >= limit { return .fail(code: CloseCode.messageTooBig, reason: "decompressed message too big") }
                output.reserve(min(output.capacity &* 2, limit), exactly: true)
            }
            let room = min(output.capacity, limit) &- output.count
            var consumed = 0
            var produced = 0
            let rc = CShim_z_inflate(stream, input.baseAddress.map { $0 + offset }, input.count &- offset,
                                     output.base! + output.count, room, Int32(CShim_Z_SYNC_FLUSH), &consumed, &produced)
            offset &+= consumed
            output.count &+= produced
            if output.count > maxMessageSize { return .fail(code: CloseCode.messageTooBig, reason: "decompressed message too big") }
            switch Int(rc) {
            case CShim_Z_STREAM_END:
                ended = true  // BFINAL block: the message is over, whatever follows is ignored
                return nil
            case CShim_Z_OK, CShim_Z_BUF_ERROR:
                if offset == input.count && produced < room { return nil }
                if consumed == 0 && produced == 0 {  // no progress with room to spare
                    return .fail(code: CloseCode.invalidPayload, reason: "corrupt deflate data")
                }
            default:
                return .fail(code: CloseCode.invalidPayload, reason: "corrupt deflate data")
            }
        }
    }

    /// Frees the zlib stream and the output buffer.
    public func release() {
        dropStream()
        output.release()
    }

    func dropStream() {
        CShim_z_free(stream)
        stream = nil
    }
}
