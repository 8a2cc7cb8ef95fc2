// String validation (RFC 8259 §7 grammar, §8.1 UTF-8) with an eight-bytes-at-a-time ASCII
// fast path: typical payload strings are plain ASCII and the loop only stops at a quote,
// a backslash, a control byte or a non-ASCII byte.

extension JSONCursor {
    /// Offset just past the closing quote of the string whose opening quote is at `quote`.
    ///
    /// RFC 8259 §7: `char = unescaped / escape ( %x22 / %x5C / %x2F / %x62 / %x66 / %x6E /
    /// %x72 / %x74 / %x75 4HEXDIG )` and `unescaped = %x20-21 / %x23-5B / %x5D-10FFFF`, so
    /// raw U+0000–U+001F (tab included) is invalid. RFC 8259 §8.1: the text is UTF-8.
    ///
    /// Escaped lone surrogates such as `"\uD800"` are ACCEPTED: the §7 grammar allows any
    /// four hex digits and §8.2 only warns that receivers may behave unpredictably. We never
    /// decode escapes (the bytes are forwarded verbatim), so accepting them costs nothing and
    /// rejecting them would refuse payloads other JSON encoders legitimately produce.
    func scanString(_ quote: Int) throws(JSONError) -> Int {
        var i = quote &+ 1
        while true {
            // Fast path: skip eight ordinary ASCII bytes per step.
            while end &- i >= 8 {
                let special = stringSpecialBytes(word(i))
                if special != 0 {
                    i &+= special.trailingZeroBitCount &>> 3
                    break
                }
                i &+= 8
            }
            guard i < end else { throw JSONError(offset: quote, reason: "unterminated string") }
            let b = byte(i)
            if b == UInt8(ascii: "\"") { return i &+ 1 }
            if b == UInt8(ascii: "\\") {
                i = try scanEscape(i, quote: quote)
            } else if b < 0x20 {
                throw JSONError(offset: i, reason: "unescaped control character in string")
            } else if b >= 0x80 {
                i = try scanUTF8(i, quote: quote)
            } else {
                i &+= 1
            }
        }
    }

    /// Offset just past the escape whose backslash is at `i` (RFC 8259 §7).
    @inline(__always)
    func scanEscape(_ i: Int, quote: Int) throws(JSONError) -> Int {
        guard i &+ 1 < end else { throw JSONError(offset: quote, reason: "unterminated string") }
        switch byte(i &+ 1) {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
            UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
            return i &+ 2
        case UInt8(ascii: "u"):
            // RFC 8259 §7: exactly four hex digits follow "\u".
            for k in 2 ..< 6 {
                guard i &+ k < end else { throw JSONError(offset: quote, reason: "unterminated string") }
                guard isHexDigit(byte(i &+ k)) else {
                    throw JSONError(offset: i, reason: "invalid \\u escape (needs 4 hex digits)")
                }
            }
            return i &+ 6
        default:
            throw JSONError(offset: i, reason: "invalid escape")
        }
    }

    /// Offset just past the multi-byte UTF-8 sequence whose lead byte is at `i`.
    ///
    /// RFC 3629 §4: the lead byte fixes the length and narrows the range of the second byte,
    /// which rejects overlongs (C0, C1, E0 80–9F, F0 80–8F), UTF-8-encoded surrogates
    /// (ED A0–BF) and code points above U+10FFFF (F4 90+, F5–FF) without decoding.
    @inline(__always)
    func scanUTF8(_ i: Int, quote: Int) throws(JSONError) -> Int {
        let lead = byte(i)
        var lower: UInt8 = 0x80
        var upper: UInt8 = 0xBF
        let tail: Int
        switch lead {
        case 0xC2 ... 0xDF: tail = 1
        case 0xE0: tail = 2; lower = 0xA0
        case 0xE1 ... 0xEC, 0xEE ... 0xEF: tail = 2
        case 0xED: tail = 2; upper = 0x9F
        case 0xF0: tail = 3; lower = 0x90
        case 0xF1 ... 0xF3: tail = 3
        case 0xF4: tail = 3; upper = 0x8F
        default: throw JSONError(offset: i, reason: "invalid UTF-8 in string")
        }
        for k in 1 ... tail {
            guard i &+ k < end else { throw JSONError(offset: quote, reason: "unterminated string") }
            let b = byte(i &+ k)
            guard b >= lower && b <= upper else { throw JSONError(offset: i, reason: "invalid UTF-8 in string") }
            lower = 0x80
            upper = 0xBF
        }
        return i &+ 1 &+ tail
    }
}

/// `HEXDIG = DIGIT / "A"-"F"` (RFC 5234 B.1; JSON also allows lowercase, RFC 8259 §7).
@inline(__always)
func isHexDigit(_ b: UInt8) -> Bool {
    isDigit(b) || (b | 0x20) &- UInt8(ascii: "a") < 6
}

/// SWAR bytes-equal-to-zero test: the high bit of each byte of the result is set where that
/// byte of `x` is 0. Borrows only propagate upwards from a zero byte, so the LOWEST set bit
/// is always exact (higher ones may be false positives; callers only use the lowest).
@inline(__always)
func zeroBytes(_ x: UInt64) -> UInt64 {
    (x &- 0x0101_0101_0101_0101) & ~x & 0x8080_8080_8080_8080
}

/// High bit set (lowest one exact) in each byte of `w` that ends the ASCII fast path of a
/// string: `"`, `\`, a control byte below 0x20, or a byte with its high bit set.
@inline(__always)
func stringSpecialBytes(_ w: UInt64) -> UInt64 {
    let ones: UInt64 = 0x0101_0101_0101_0101
    let quotes = zeroBytes(w ^ (ones &* 0x22))
    let backslashes = zeroBytes(w ^ (ones &* 0x5C))
    let controls = (w &- ones &* 0x20) & ~w  // bytes < 0x20 (RFC 8259 §7 "unescaped")
    return (quotes | backslashes | controls | w) & 0x8080_8080_8080_8080
}
