/// What ``ChunkedDecoder/decode(_:)`` found at the front of its input.
public enum ChunkedStep: Equatable, Hashable, Sendable {
    /// Payload bytes at `input[start ..< start + count]`; `consumed` (= `start + count`)
    /// bytes of the input, framing included, are used up. Deliver the run, then
    /// call again with the input after `consumed`.
    case data(start: Int, count: Int, consumed: Int)
    /// All `consumed` bytes (the whole input) were framing or part of a line the
    /// decoder remembers; call again when more bytes arrive.
    case needMore(consumed: Int)
    /// The body ended (last-chunk, trailer section, final CRLF) after `consumed`
    /// bytes; anything later in the input belongs to the next request.
    case end(consumed: Int)
    /// The body is malformed (status 400); close the connection.
    case invalid(HTTPParseError)
}

/// An incremental decoder for the chunked transfer coding (RFC 9112 §7.1).
///
/// Unlike the stateless head parser, a body can be arbitrarily long, so this is a
/// small state machine: every byte of framing is consumed exactly once and input
/// may be split at any offset, including inside a size line, the CRLF after
/// chunk data, or a trailer. Payload is never copied: runs are reported as
/// ranges of the caller's input. Framing requires exact CRLF (no lone LF) to
/// leave no room for the parsing disagreements that enable request smuggling
/// (RFC 9112 §11.2). Chunk extensions and trailer fields are validated, then ignored.
public struct ChunkedDecoder: Sendable {
    enum State: UInt8, Sendable {
        case sizeStart, size, extBWS, ext, sizeLF
        case data, dataCR, dataLF
        case trailerStart, trailerName, trailerValue, trailerLF, endLF
        case done, failed
    }

    /// The longest chunk-size line (size plus extensions) accepted: extensions are
    /// ignored, so an unbounded line would only be a way to burn CPU.
    public static let maxSizeLineBytes = 4096
    /// The largest trailer section accepted.
    public static let maxTrailerBytes = 16 * 1024

    var state: State = .sizeStart
    var remaining: Int64 = 0
    var lineBytes = 0
    var trailerBytes = 0
    var error: HTTPParseError = .badChunkSize

    /// Total payload bytes reported so far, for the caller's body limit (413).
    public private(set) var bodyBytes: Int64 = 0

    /// Whether the terminating CRLF after the trailer section has been consumed.
    public var isComplete: Bool { state == .done }

    /// Creates a decoder positioned at the first chunk-size.
    public init() {}

    /// Consumes framing from the start of `input` until it reaches payload, the
    /// end of the body, an error, or the end of `input`.
    public mutating func decode(_ input: UnsafeRawBufferPointer) -> ChunkedStep {
        var i = 0
        let end = input.count
        while true {
            if state == .data {
                let available = end &- i
                guard available > 0 else { return .needMore(consumed: i) }
                let run = remaining < Int64(available) ? Int(remaining) : available
                remaining &-= Int64(run)
                bodyBytes &+= Int64(run)
                if remaining == 0 { state = .dataCR }
                return .data(start: i, count: run, consumed: i &+ run)
            }
            if state == .done { return .end(consumed: i) }
            if state == .failed { return .invalid(error) }
            guard i < end else { return .needMore(consumed: i) }
            let c = input[i]
            i &+= 1
            if let failure = step(c) {
                error = failure
                state = .failed
                return .invalid(failure)
            }
        }
    }

    /// Advances the framing state machine by one byte.
    @inline(__always)
    mutating func step(_ c: UInt8) -> HTTPParseError? {
        switch state {
        // RFC 9112 §7.1: chunk = chunk-size [ chunk-ext ] CRLF chunk-data CRLF;
        // chunk-size = 1*HEXDIG (either case, leading zeros allowed).
        case .sizeStart:
            guard let digit = hexValue(c) else { return .badChunkSize }
            remaining = Int64(digit)
            lineBytes = 1
            state = .size
        case .size:
            lineBytes &+= 1
            if let digit = hexValue(c) {
                guard remaining <= Int64.max >> 4 else { return .chunkSizeOverflow }
                remaining = remaining << 4 | Int64(digit)
            } else if c == ASCII.cr {
                state = .sizeLF
            } else if c == ASCII.semicolon {
                state = .ext
            } else if isWhitespace(c) {
                state = .extBWS
            } else if c == ASCII.lf {
                return .badChunkFraming
            } else {
                return .badChunkSize
            }
        // RFC 9112 §7.1.1: chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] ).
        case .extBWS:
            lineBytes &+= 1
            if c == ASCII.semicolon {
                state = .ext
            } else if !isWhitespace(c) {
                return .badChunkExtension
            }
        case .ext:
            lineBytes &+= 1
            guard lineBytes <= Self.maxSizeLineBytes else { return .badChunkExtension }
            if c == ASCII.cr {
                state = .sizeLF
            } else if !isFieldVChar(c) && !isWhitespace(c) {
                return c == ASCII.lf ? .badChunkFraming : .badChunkExtension
            }
        case .sizeLF:
            guard c == ASCII.lf else { return .badChunkFraming }
            // RFC 9112 §7.1: last-chunk = 1*("0") [ chunk-ext ] CRLF, then trailers.
            state = remaining == 0 ? .trailerStart : .data
        case .dataCR:
            guard c == ASCII.cr else { return .badChunkFraming }
            state = .dataLF
        case .dataLF:
            guard c == ASCII.lf else { return .badChunkFraming }
            state = .sizeStart
        // RFC 9112 §7.1.2: trailer-section = *( field-line CRLF ), then the final CRLF.
        case .trailerStart:
            if c == ASCII.cr {
                state = .endLF
            } else {
                guard isTokenChar(c) else { return .badTrailer }
                state = .trailerName
            }
            return countTrailerByte()
        case .trailerName:
            if c == ASCII.colon {
                state = .trailerValue
            } else if !isTokenChar(c) {
                return .badTrailer
            }
            return countTrailerByte()
        case .trailerValue:
            if c == ASCII.cr {
                state = .trailerLF
            } else if !isFieldVChar(c) && !isWhitespace(c) {
                return .badTrailer
            }
            return countTrailerByte()
        case .trailerLF:
            guard c == ASCII.lf else { return .badTrailer }
            state = .trailerStart
            return countTrailerByte()
        case .endLF:
            guard c == ASCII.lf else { return .badChunkFraming }
            state = .done
        case .data, .done, .failed:
            break  // handled by decode(_:) before a byte is taken
        }
        if lineBytes > Self.maxSizeLineBytes { return .badChunkExtension }
        return nil
    }

    @inline(__always)
    mutating func countTrailerByte() -> HTTPParseError? {
        trailerBytes &+= 1
        return trailerBytes > Self.maxTrailerBytes ? .trailerTooLarge : nil
    }
}
