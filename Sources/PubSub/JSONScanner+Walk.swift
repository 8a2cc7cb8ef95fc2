// Walking an already validated buffer: element and member ranges by offsets. Validation has
// proved the structure, so skipping a value only has to find its end — strings by their
// closing quote, containers by bracket counting outside strings — never re-check grammar.
// Every loop is still bounded by the range's end, so even misuse cannot read past it.

extension JSONScanner {
    /// Calls `body` with the range of each element of the array at `bytes[range]` (which must
    /// already be validated and be an array), in order, ranges relative to `bytes`.
    /// Does nothing when `bytes[range]` does not start with `[`.
    public static func forEachElement(
        in bytes: UnsafeRawBufferPointer, array range: Range<Int>, _ body: (Range<Int>) -> Void
    ) {
        guard let c = cursor(bytes, range), c.byte(range.lowerBound) == UInt8(ascii: "[") else { return }
        // RFC 8259 §5: array = begin-array [ value *( value-separator value ) ] end-array
        var i = c.skipWhitespace(range.lowerBound &+ 1)
        while i < c.end, c.byte(i) != UInt8(ascii: "]") {
            let valueEnd = c.skipValidatedValue(i)
            body(i ..< valueEnd)
            i = c.skipWhitespace(valueEnd)
            guard i < c.end, c.byte(i) == UInt8(ascii: ",") else { return }
            i = c.skipWhitespace(i &+ 1)
        }
    }

    /// Calls `body(key, value)` for each member of the object at `bytes[range]` (already
    /// validated), where `key` is the range of the key's raw content WITHOUT the quotes
    /// (escapes not decoded) and `value` the range of the value. Members come in document
    /// order; duplicate names are reported as they come (RFC 8259 §4 leaves them to us).
    /// Does nothing when `bytes[range]` does not start with `{`.
    public static func forEachMember(
        in bytes: UnsafeRawBufferPointer, object range: Range<Int>,
        _ body: (_ key: Range<Int>, _ value: Range<Int>) -> Void
    ) {
        guard let c = cursor(bytes, range), c.byte(range.lowerBound) == UInt8(ascii: "{") else { return }
        // RFC 8259 §4: object = begin-object [ member *( value-separator member ) ] end-object
        var i = c.skipWhitespace(range.lowerBound &+ 1)
        while i < c.end, c.byte(i) == UInt8(ascii: "\"") {
            let keyStart = i &+ 1
            let keyEnd = c.skipValidatedString(i)
            i = c.skipWhitespace(keyEnd)
            guard i < c.end, c.byte(i) == UInt8(ascii: ":") else { return }
            i = c.skipWhitespace(i &+ 1)
            guard i < c.end else { return }
            let valueEnd = c.skipValidatedValue(i)
            body(keyStart ..< max(keyStart, keyEnd &- 1), i ..< valueEnd)
            i = c.skipWhitespace(valueEnd)
            guard i < c.end, c.byte(i) == UInt8(ascii: ",") else { return }
            i = c.skipWhitespace(i &+ 1)
        }
    }

    /// A cursor ending at `range.upperBound`, or nil for an empty or out-of-bounds range.
    @inline(__always)
    static func cursor(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> JSONCursor? {
        guard let base = bytes.baseAddress, range.lowerBound >= 0, range.upperBound <= bytes.count,
            !range.isEmpty
        else { return nil }
        return JSONCursor(base: base, end: range.upperBound)
    }
}

extension JSONCursor {
    /// End of the validated value starting at `i` (`i < end`); never past `end`.
    func skipValidatedValue(_ i: Int) -> Int {
        switch byte(i) {
        case UInt8(ascii: "\""):
            return skipValidatedString(i)
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            return skipValidatedContainer(i)
        default:
            // A number or literal ends at a separator, a closer or whitespace.
            var j = i &+ 1
            while j < end {
                let b = byte(j)
                if b == UInt8(ascii: ",") || b == UInt8(ascii: "]") || b == UInt8(ascii: "}") || isJSONWhitespace(b) {
                    break
                }
                j &+= 1
            }
            return j
        }
    }

    /// End of the validated string whose opening quote is at `quote`: the first `"` not
    /// preceded by an escaping backslash, found eight bytes at a time.
    func skipValidatedString(_ quote: Int) -> Int {
        var j = quote &+ 1
        while j < end {
            while end &- j >= 8 {
                let w = word(j)
                let hits = (zeroBytes(w ^ 0x2222_2222_2222_2222) | zeroBytes(w ^ 0x5C5C_5C5C_5C5C_5C5C))
                if hits != 0 {
                    j &+= hits.trailingZeroBitCount &>> 3
                    break
                }
                j &+= 8
            }
            guard j < end else { break }
            let b = byte(j)
            if b == UInt8(ascii: "\"") { return j &+ 1 }
            j &+= b == UInt8(ascii: "\\") ? 2 : 1  // the escaped byte can't end the string
        }
        return end
    }

    /// End of the validated object or array whose opener is at `open`: brackets are counted
    /// outside strings, eight bytes at a time between quotes and brackets.
    func skipValidatedContainer(_ open: Int) -> Int {
        var depth = 0
        var j = open
        while j < end {
            while end &- j >= 8 {
                let w = word(j)
                // `[`|0x20 is `{` and `]`|0x20 is `}`; no other byte maps onto those two.
                let folded = w | 0x2020_2020_2020_2020
                let hits = zeroBytes(w ^ 0x2222_2222_2222_2222) | zeroBytes(folded ^ 0x7B7B_7B7B_7B7B_7B7B)
                    | zeroBytes(folded ^ 0x7D7D_7D7D_7D7D_7D7D)
                if hits != 0 {
                    j &+= hits.trailingZeroBitCount &>> 3
                    break
                }
                j &+= 8
            }
            guard j < end else { break }
            switch byte(j) {
            case UInt8(ascii: "\""):
                j = skipValidatedString(j)
                continue
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                depth &+= 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                depth &-= 1
                if depth == 0 { return j &+ 1 }
            default:
                break
            }
            j &+= 1
        }
        return end
    }
}
