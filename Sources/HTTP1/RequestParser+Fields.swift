// Field lines (RFC 9112 §5) and the framing decisions taken from them (RFC 9112 §6).

extension RequestParser {
    /// Scans field lines from `i` to the empty line, filling `slots`, then settles
    /// the framing facts in `head`.
    static func parseFields(
        _ buffer: UnsafeRawBufferPointer, from start: Int, limit: Int, incomplete: ParseResult,
        slots: UnsafeMutableBufferPointer<HTTPHeaderSlot>, into head: inout RequestHead
    ) -> ParseResult {
        var facts = FieldFacts()
        var count = 0
        var i = start
        while true {
            guard i < limit else { return incomplete }
            let first = buffer[i]
            // The empty line ending the head: CRLF, or a lone LF (RFC 9112 §2.2).
            if first == ASCII.cr {
                guard i &+ 1 < limit else { return incomplete }
                guard buffer[i &+ 1] == ASCII.lf else { return .invalid(.bareCR) }
                i &+= 2
                break
            }
            if first == ASCII.lf {
                i &+= 1
                break
            }
            // RFC 9112 §5.2: obs-fold (and, by §2.2, whitespace before the first
            // field) is rejected rather than unfolded.
            if isWhitespace(first) { return .invalid(.obsFold) }

            // RFC 9112 §5: field-line = field-name ":" OWS field-value OWS.
            let nameStart = i
            while true {
                guard i < limit else { return incomplete }
                let c = buffer[i]
                if isTokenChar(c) { i &+= 1; continue }
                if c == ASCII.colon { break }
                // RFC 9112 §5.1: no whitespace between field name and colon; MUST 400.
                if isWhitespace(c) { return .invalid(.whitespaceBeforeColon) }
                if c == ASCII.cr || c == ASCII.lf { return .invalid(.badHeaderLine) }
                return .invalid(.badHeaderName)
            }
            guard i > nameStart else { return .invalid(.badHeaderLine) }
            let nameLength = i &- nameStart
            i &+= 1

            while true {
                guard i < limit else { return incomplete }
                guard isWhitespace(buffer[i]) else { break }
                i &+= 1
            }
            let valueStart = i
            var valueEnd = i
            while true {
                guard i < limit else { return incomplete }
                let c = buffer[i]
                if isFieldVChar(c) {
                    i &+= 1
                    valueEnd = i
                } else if isWhitespace(c) {
                    i &+= 1
                } else if c == ASCII.cr {
                    guard i &+ 1 < limit else { return incomplete }
                    guard buffer[i &+ 1] == ASCII.lf else { return .invalid(.bareCR) }
                    i &+= 2
                    break
                } else if c == ASCII.lf {
                    i &+= 1
                    break
                } else {
                    // RFC 9110 §5.5: CTLs other than HTAB (NUL, DEL, …) are invalid.
                    return .invalid(.badHeaderValue)
                }
            }

            guard count < slots.count else { return .invalid(.tooManyHeaders) }
            let valueLength = valueEnd &- valueStart
            slots[count] = HTTPHeaderSlot(
                nameStart: Int32(truncatingIfNeeded: nameStart), nameLength: Int32(truncatingIfNeeded: nameLength),
                valueStart: Int32(truncatingIfNeeded: valueStart), valueLength: Int32(truncatingIfNeeded: valueLength))
            count &+= 1
            if let error = facts.note(buffer, nameStart: nameStart, nameLength: nameLength,
                                      valueStart: valueStart, valueLength: valueLength) {
                return .invalid(error)
            }
        }
        head.headerCount = count
        head.headLength = i
        if let error = facts.settle(into: &head) { return .invalid(error) }
        return .complete(headLength: i)
    }
}

/// What the parser learns from the fields that decide framing and connection
/// handling, collected line by line and settled once the head is complete.
struct FieldFacts {
    var hostCount = 0
    var contentLength: Int64 = -1
    var sawTransferEncoding = false
    var chunkedCount = 0
    var otherCodingCount = 0
    var lastCodingIsChunked = false
    var connectionClose = false
    var connectionKeepAlive = false
    var connectionUpgrade = false
    var upgradePresent = false
    var expectContinue = false

    /// Records one field line. Dispatches on the name's length first, so most
    /// fields cost one switch.
    @inline(__always)
    mutating func note(
        _ buffer: UnsafeRawBufferPointer, nameStart: Int, nameLength: Int, valueStart: Int, valueLength: Int
    ) -> HTTPParseError? {
        let valueEnd = valueStart &+ valueLength
        switch nameLength {
        case 4 where equalsIgnoringCase(buffer, start: nameStart, length: 4, "host"):
            hostCount &+= 1
        case 6 where equalsIgnoringCase(buffer, start: nameStart, length: 6, "expect"):
            // RFC 9110 §10.1.1: the only expectation defined is "100-continue".
            if equalsIgnoringCase(buffer, start: valueStart, length: valueLength, "100-continue") {
                expectContinue = true
            }
        case 7 where equalsIgnoringCase(buffer, start: nameStart, length: 7, "upgrade"):
            if valueLength > 0 { upgradePresent = true }
        case 10 where equalsIgnoringCase(buffer, start: nameStart, length: 10, "connection"):
            // RFC 9110 §7.6.1: Connection = #connection-option, case-insensitive.
            forEachListElement(buffer, start: valueStart, end: valueEnd) { s, n in
                if equalsIgnoringCase(buffer, start: s, length: n, "close") {
                    connectionClose = true
                } else if equalsIgnoringCase(buffer, start: s, length: n, "keep-alive") {
                    connectionKeepAlive = true
                } else if equalsIgnoringCase(buffer, start: s, length: n, "upgrade") {
                    connectionUpgrade = true
                }
                return true
            }
        case 14 where equalsIgnoringCase(buffer, start: nameStart, length: 14, "content-length"):
            return noteContentLength(buffer, start: valueStart, end: valueEnd)
        case 17 where equalsIgnoringCase(buffer, start: nameStart, length: 17, "transfer-encoding"):
            // RFC 9112 §6.1: the codings of all Transfer-Encoding lines form one list,
            // in order; only whether chunked is last and single matters here.
            sawTransferEncoding = true
            forEachListElement(buffer, start: valueStart, end: valueEnd) { s, n in
                if equalsIgnoringCase(buffer, start: s, length: n, "chunked") {
                    chunkedCount &+= 1
                    lastCodingIsChunked = true
                } else {
                    otherCodingCount &+= 1
                    lastCodingIsChunked = false
                }
                return true
            }
        default:
            break
        }
        return nil
    }

    /// RFC 9110 §8.6: `Content-Length = 1*DIGIT`. A list ("5, 5") is not accepted;
    /// repeated lines must carry the same value (RFC 9112 §6.3 item 5).
    @inline(__always)
    mutating func noteContentLength(_ buffer: UnsafeRawBufferPointer, start: Int, end: Int) -> HTTPParseError? {
        guard end > start else { return .badContentLength }
        var value: Int64 = 0
        var i = start
        while i < end {
            let digit = buffer[i] &- 0x30
            guard digit < 10 else { return .badContentLength }
            let (times10, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(Int64(digit))
            guard !o1 && !o2 else { return .badContentLength }
            value = sum
            i &+= 1
        }
        if contentLength >= 0 && contentLength != value { return .badContentLength }
        contentLength = value
        return nil
    }

    /// Applies the rules that need the whole head and fills `head`'s framing fields.
    mutating func settle(into head: inout RequestHead) -> HTTPParseError? {
        let http11 = head.versionMinor == 1
        // RFC 9112 §3.2: 400 for an HTTP/1.1 request without Host, or any request
        // with more than one Host line.
        if hostCount > 1 || (http11 && hostCount == 0) { return .badHost }
        if sawTransferEncoding {
            // RFC 9112 §6.1, §11.2: both framings at once is a smuggling vector.
            if contentLength >= 0 { return .contentLengthWithTransferEncoding }
            // RFC 9112 §6.1: Transfer-Encoding in HTTP/1.0 means faulty framing.
            // RFC 9112 §6.3 item 4: chunked must be the final coding (else 400);
            // RFC 9112 §7: chunked is applied at most once.
            guard http11, chunkedCount == 1, lastCodingIsChunked else { return .badTransferEncoding }
            // RFC 9112 §6.1: a coding the server does not understand → 501.
            guard otherCodingCount == 0 else { return .unsupportedTransferEncoding }
            head.chunked = true
        }
        head.contentLength = contentLength
        // RFC 9112 §9.3: HTTP/1.1 persists unless "close"; HTTP/1.0 only with "keep-alive".
        head.keepAlive = !connectionClose && (http11 || connectionKeepAlive)
        // RFC 9110 §10.1.1: ignore 100-continue from an HTTP/1.0 client.
        head.expectContinue = expectContinue && http11
        head.upgrade = connectionUpgrade && upgradePresent
        return nil
    }
}
