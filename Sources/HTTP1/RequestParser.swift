/// The outcome of one ``RequestParser`` call (picohttpparser's `>0 / -2 / -1`).
public enum ParseResult: Equatable, Hashable, Sendable {
    /// The head is complete and `headLength` bytes long; the body (or the next
    /// pipelined request) starts at that offset.
    case complete(headLength: Int)
    /// The head is not complete yet; call again from the start once more bytes arrive.
    case partial
    /// The request is malformed; answer `error.status` and close the connection.
    case invalid(HTTPParseError)
}

/// A stateless, zero-copy HTTP/1.x request-head parser (RFC 9112 §2–§6).
///
/// Like picohttpparser it keeps no state between calls: when `.partial` comes
/// back the caller waits for more bytes and parses the whole buffer again from
/// its start. Heads are small, so the re-scan costs less than carrying a
/// resumable state machine, and a stateless parser cannot desynchronise.
///
/// The parser reads only `buffer[0 ..< min(buffer.count, maxHeadBytes)]`, writes
/// only `slots` and `head`, and allocates nothing.
public enum RequestParser {
    /// Parses the request head at the start of `buffer`.
    ///
    /// - Parameters:
    ///   - buffer: received bytes; slot and head offsets are relative to its start.
    ///     To parse a pipelined request, pass the slice after the previous message.
    ///   - maxHeadBytes: the largest head accepted; an incomplete head of this
    ///     many bytes or more is `.invalid(.headTooLarge)` (431).
    ///   - slots: storage for field lines; one more field than fits is
    ///     `.invalid(.tooManyHeaders)` (431).
    ///   - head: overwritten; meaningful only after `.complete`.
    public static func parse(
        _ buffer: UnsafeRawBufferPointer, maxHeadBytes: Int,
        slots: UnsafeMutableBufferPointer<HTTPHeaderSlot>, into head: inout RequestHead
    ) -> ParseResult {
        head = RequestHead()
        // Offsets are stored as Int32, so never look further than Int32.max bytes.
        let maxHead = min(maxHeadBytes, Int(Int32.max))
        let limit = min(buffer.count, maxHead)
        let incomplete: ParseResult = buffer.count >= maxHead ? .invalid(.headTooLarge) : .partial

        var i = 0
        // RFC 9112 §2.2: a server SHOULD ignore empty lines received before the request-line.
        while true {
            guard i < limit else { return incomplete }
            let c = buffer[i]
            if c == ASCII.lf {
                i &+= 1
            } else if c == ASCII.cr {
                guard i &+ 1 < limit else { return incomplete }
                guard buffer[i &+ 1] == ASCII.lf else { return .invalid(.bareCR) }
                i &+= 2
            } else {
                break
            }
        }

        // RFC 9112 §3: request-line = method SP request-target SP HTTP-version CRLF,
        // each element separated by exactly one SP (no lenient word splitting).
        let methodStart = i
        while true {
            guard i < limit else { return incomplete }
            let c = buffer[i]
            if isTokenChar(c) { i &+= 1; continue }
            if c == ASCII.sp { break }
            if c == ASCII.cr || c == ASCII.lf || c == ASCII.htab { return .invalid(.badRequestLine) }
            return .invalid(.badMethod)
        }
        guard i > methodStart else { return .invalid(.badRequestLine) }
        head.method = HTTPMethod.recognise(buffer, start: methodStart, length: i &- methodStart)
        i &+= 1

        // RFC 9112 §3.2: the target is any run of visible bytes; control bytes, SP
        // inside, or an empty target are errors. The form is checked once it ends.
        let targetStart = i
        var questionMark = -1
        while true {
            guard i < limit else { return incomplete }
            let c = buffer[i]
            if isFieldVChar(c) {
                if c == ASCII.question && questionMark < 0 { questionMark = i }
                i &+= 1
                continue
            }
            if c == ASCII.sp { break }
            if c == ASCII.cr || c == ASCII.lf { return .invalid(.badRequestLine) }  // no version
            return .invalid(.badTarget)
        }
        guard i > targetStart else { return .invalid(.badTarget) }
        head.targetStart = targetStart
        head.targetLength = i &- targetStart
        guard locatePath(buffer, questionMark: questionMark, into: &head) else { return .invalid(.badTarget) }
        i &+= 1

        switch parseVersion(buffer, at: &i, limit: limit) {
        case .ok(let minor): head.versionMinor = minor
        case .incomplete: return incomplete
        case .invalid(let error): return .invalid(error)
        }

        return parseFields(buffer, from: i, limit: limit, incomplete: incomplete, slots: slots, into: &head)
    }

    /// The result of one step that can run out of input.
    enum Step<Value> {
        case ok(Value)
        case incomplete
        case invalid(HTTPParseError)
    }

    /// RFC 9112 §2.3: `HTTP-version = "HTTP" "/" DIGIT "." DIGIT`, case-sensitive,
    /// then the request-line terminator (CRLF or a lone LF, RFC 9112 §2.2).
    /// Returns the minor version; well-formed versions other than 1.0 and 1.1
    /// are `.unsupportedVersion` (505).
    @inline(__always)
    static func parseVersion(_ buffer: UnsafeRawBufferPointer, at i: inout Int, limit: Int) -> Step<UInt8> {
        let start = i
        while i &- start < 8 {
            guard i < limit else { return .incomplete }
            let c = buffer[i]
            let ok: Bool
            switch i &- start {
            case 0: ok = c == 0x48  // H
            case 1, 2: ok = c == 0x54  // T
            case 3: ok = c == 0x50  // P
            case 4: ok = c == ASCII.slash
            case 6: ok = c == 0x2E  // .
            default: ok = c &- 0x30 < 10  // DIGIT
            }
            guard ok else { return .invalid(.badVersion) }
            i &+= 1
        }
        guard i < limit else { return .incomplete }
        let c = buffer[i]
        if c == ASCII.cr {
            guard i &+ 1 < limit else { return .incomplete }
            guard buffer[i &+ 1] == ASCII.lf else { return .invalid(.bareCR) }
            i &+= 2
        } else if c == ASCII.lf {
            i &+= 1
        } else {
            return .invalid(.badVersion)
        }
        let major = buffer[start &+ 5] &- 0x30
        let minor = buffer[start &+ 7] &- 0x30
        guard major == 1 && minor <= 1 else { return .invalid(.unsupportedVersion) }
        return .ok(minor)
    }

    /// Checks the request-target's form against the method and sets
    /// `pathStart`/`pathLength` (RFC 9112 §3.2). Returns `false` for a target in no
    /// acceptable form.
    static func locatePath(_ buffer: UnsafeRawBufferPointer, questionMark: Int, into head: inout RequestHead) -> Bool {
        let start = head.targetStart
        let end = start &+ head.targetLength
        let pathEnd = questionMark < 0 ? end : questionMark
        let first = buffer[start]
        // RFC 9112 §3.2.3: authority-form (host:port), the only form CONNECT takes.
        if head.method == .connect {
            head.pathStart = start
            head.pathLength = 0
            return questionMark < 0 && !contains(buffer, ASCII.slash, from: start, to: end)
                && contains(buffer, ASCII.colon, from: start, to: end)
        }
        // RFC 9112 §3.2.1: origin-form = absolute-path [ "?" query ].
        if first == ASCII.slash {
            head.pathStart = start
            head.pathLength = pathEnd &- start
            return true
        }
        // RFC 9112 §3.2.4: asterisk-form, only for a server-wide OPTIONS.
        if first == ASCII.star && head.targetLength == 1 {
            head.pathStart = start
            head.pathLength = 1
            return head.method == .options
        }
        // RFC 9112 §3.2.2: absolute-form; RFC 3986 §3.1:
        // scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) followed by ":".
        guard asciiLower(first) &- 0x61 < 26 else { return false }
        var i = start &+ 1
        while i < pathEnd {
            let c = buffer[i]
            if c == ASCII.colon { break }
            guard asciiLower(c) &- 0x61 < 26 || c &- 0x30 < 10 || c == 0x2B || c == 0x2D || c == 0x2E else {
                return false
            }
            i &+= 1
        }
        guard i < pathEnd else { return false }
        i &+= 1
        // RFC 3986 §3.2: "//" authority, ending at the next "/" (or the query).
        if i &+ 1 < pathEnd && buffer[i] == ASCII.slash && buffer[i &+ 1] == ASCII.slash {
            i &+= 2
            while i < pathEnd && buffer[i] != ASCII.slash { i &+= 1 }
        }
        head.pathStart = i
        head.pathLength = pathEnd &- i
        return true
    }

    @inline(__always)
    static func contains(_ buffer: UnsafeRawBufferPointer, _ byte: UInt8, from: Int, to end: Int) -> Bool {
        var i = from
        while i < end {
            if buffer[i] == byte { return true }
            i &+= 1
        }
        return false
    }
}
