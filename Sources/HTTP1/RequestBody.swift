/// A request body that follows its head in the connection's input, collected (or skipped)
/// across reads without parsing the head again (RFC 9112 §6.3 framing): `Content-Length`
/// bytes, or the chunked coding (§7.1) validated as it arrives and, once complete, compacted
/// in place so the body is one contiguous range.
///
/// `collect` is always called with the input from the request's first byte: the head, then
/// whatever of the body has arrived. It remembers how far it validated, so each byte of a
/// chunked body is decoded once.
public struct RequestBody: Sendable {
    /// What `collect` found.
    public enum Outcome: Equatable, Sendable {
        /// More bytes are needed.
        case needMore
        /// The body is larger than the limit (413): it was not read to its end.
        case tooLarge
        /// The chunked framing is broken (400).
        case invalid(HTTPParseError)
        /// The body is `buffer[body]`; the request used `used` bytes, head included.
        case complete(body: Range<Int>, used: Int)
    }

    private let headLength: Int
    private let limit: Int64
    private let contentLength: Int64
    private let chunked: Bool
    private var decoder = ChunkedDecoder()
    /// For chunked bodies: input bytes (from the head's start) validated so far.
    private var scanned: Int

    /// The body of the request whose head is `head`, at most `limit` bytes.
    public init(_ head: RequestHead, limit: Int) {
        headLength = head.headLength
        self.limit = Int64(limit)
        chunked = head.chunked
        contentLength = head.chunked ? 0 : max(0, head.contentLength)
        scanned = head.headLength
    }

    /// Whether a `Content-Length` alone already says the body is over the limit.
    public var declaredTooLarge: Bool { !chunked && contentLength > limit }

    /// Looks at the input from the request's first byte.
    public mutating func collect(_ buffer: UnsafeMutableRawBufferPointer) -> Outcome {
        if !chunked {
            if contentLength > limit { return .tooLarge }
            let n = Int(contentLength)
            guard buffer.count - headLength >= n else { return .needMore }
            return .complete(body: headLength..<(headLength + n), used: headLength + n)
        }
        while true {
            let step = decoder.decode(UnsafeRawBufferPointer(rebasing: buffer[scanned...]))
            switch step {
            case .data(_, _, let consumed), .needMore(let consumed):
                scanned += consumed
                if decoder.bodyBytes > limit { return .tooLarge }
                if case .needMore = step { return .needMore }
            case .end(let consumed):
                scanned += consumed
                return .complete(body: headLength..<compact(buffer, end: scanned), used: scanned)
            case .invalid(let e):
                return .invalid(e)
            }
        }
    }

    /// Moves the chunks' data of `buffer[headLength..<end]` together in place; returns where
    /// the data ends.
    private func compact(_ buffer: UnsafeMutableRawBufferPointer, end: Int) -> Int {
        var decoder = ChunkedDecoder()
        var read = headLength, write = headLength
        let base = buffer.baseAddress!
        while read < end {
            switch decoder.decode(UnsafeRawBufferPointer(rebasing: buffer[read..<end])) {
            case .data(let s, let c, let consumed):
                if write != read + s { (base + write).copyMemory(from: base + read + s, byteCount: c) }
                write += c
                read += consumed
            case .needMore(let consumed), .end(let consumed): read += consumed
            case .invalid: read = end // validated already: cannot happen
            }
        }
        return write
    }
}

/// The rest of a request body that is read and dropped: the request was answered (an error
/// that keeps the connection) before its body arrived. Bounded: past `limit` bytes the
/// connection is closed instead.
public struct BodyDiscard: Sendable {
    /// What `skip` found.
    public enum Outcome: Equatable, Sendable {
        /// `used` bytes were dropped; more of the body is to come.
        case more(used: Int)
        /// The body ended after `used` bytes; the next request follows.
        case done(used: Int)
        /// Over the limit, or broken chunked framing: close the connection.
        case close
    }

    private var remaining: Int64
    private let chunked: Bool
    private var decoder = ChunkedDecoder()
    private let limit: Int64
    private var dropped: Int64 = 0

    /// The body of `head` from its first byte, dropped up to `limit` bytes.
    public init(_ head: RequestHead, limit: Int) {
        chunked = head.chunked
        remaining = head.chunked ? 0 : max(0, head.contentLength)
        self.limit = Int64(limit)
    }

    /// Whether a body of this request can be dropped at all (a known length within the limit, or chunked).
    public var isPossible: Bool { chunked || remaining <= limit }

    /// Drops body bytes from the front of `input`.
    public mutating func skip(_ input: UnsafeRawBufferPointer) -> Outcome {
        if !chunked {
            guard remaining <= limit else { return .close }
            let n = Int(min(remaining, Int64(input.count)))
            remaining -= Int64(n)
            return remaining == 0 ? .done(used: n) : .more(used: n)
        }
        var at = 0
        while true {
            switch decoder.decode(UnsafeRawBufferPointer(rebasing: input[at...])) {
            case .data(_, let c, let consumed):
                at += consumed
                dropped += Int64(c)
                if dropped > limit { return .close }
            case .needMore(let consumed):
                return .more(used: at + consumed)
            case .end(let consumed):
                return .done(used: at + consumed)
            case .invalid:
                return .close
            }
        }
    }
}
