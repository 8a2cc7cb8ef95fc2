// The byte-level reader shared by validation and the walkers: a base pointer and an end
// offset. Every read is preceded by an explicit `i < end` check, so nothing at or past
// `end` is ever touched (the guard-page tests hold us to that).

/// Read-only view of the bytes being scanned. `end` is exclusive.
struct JSONCursor {
    /// First byte of the buffer; offsets are relative to it.
    let base: UnsafeRawPointer
    /// One past the last readable byte.
    let end: Int

    /// The byte at `i`; callers have checked `i < end`.
    @inline(__always)
    func byte(_ i: Int) -> UInt8 { base.load(fromByteOffset: i, as: UInt8.self) }

    /// Eight bytes at `i` in memory order (first byte in the low bits); callers have
    /// checked `end - i >= 8`.
    @inline(__always)
    func word(_ i: Int) -> UInt64 {
        UInt64(littleEndian: base.loadUnaligned(fromByteOffset: i, as: UInt64.self))
    }

    /// The offset of the first non-whitespace byte at or after `i` (or `end`).
    /// RFC 8259 §2: `ws = *( %x20 / %x09 / %x0A / %x0D )` — nothing else (no NBSP, no VT/FF).
    @inline(__always)
    func skipWhitespace(_ i: Int) -> Int {
        var i = i
        while i < end, isJSONWhitespace(byte(i)) { i &+= 1 }
        return i
    }

    /// Offset just past the literal `true`, `false` or `null` starting at `i`.
    /// RFC 8259 §3: the literal names MUST be lowercase and spelled exactly.
    @inline(__always)
    func scanLiteral(_ i: Int) throws(JSONError) -> Int {
        let available = end &- i
        switch byte(i) {
        case UInt8(ascii: "t"):
            // "true" as a little-endian UInt32.
            if available >= 4, UInt32(littleEndian: base.loadUnaligned(fromByteOffset: i, as: UInt32.self)) == 0x6575_7274 {
                return i &+ 4
            }
        case UInt8(ascii: "f"):
            // "alse" after the "f".
            if available >= 5, UInt32(littleEndian: base.loadUnaligned(fromByteOffset: i &+ 1, as: UInt32.self)) == 0x6573_6C61 {
                return i &+ 5
            }
        default:
            // "null".
            if available >= 4, UInt32(littleEndian: base.loadUnaligned(fromByteOffset: i, as: UInt32.self)) == 0x6C6C_756E {
                return i &+ 4
            }
        }
        throw JSONError(offset: i, reason: "invalid literal (expected true, false or null)")
    }

    /// Offset just past the number starting at `i` (a `-` or a digit).
    ///
    /// RFC 8259 §6: `number = [ minus ] int [ frac ] [ exp ]`, `int = zero / ( digit1-9 *DIGIT )`,
    /// `frac = decimal-point 1*DIGIT`, `exp = e [ minus / plus ] 1*DIGIT`. So no leading `+`,
    /// no leading zeros, at least one digit on both sides of `.`, and no NaN/Infinity/hex.
    func scanNumber(_ start: Int) throws(JSONError) -> Int {
        var i = start
        if byte(i) == UInt8(ascii: "-") {
            i &+= 1
            guard i < end, isDigit(byte(i)) else {
                throw JSONError(offset: i, reason: "expected a digit after '-'")
            }
        }
        if byte(i) == UInt8(ascii: "0") {
            i &+= 1
            // RFC 8259 §6: int = zero / ( digit1-9 *DIGIT ) — "01" is not a number.
            if i < end, isDigit(byte(i)) { throw JSONError(offset: start, reason: "leading zero in number") }
        } else {
            i = skipDigits(i &+ 1)
        }
        if i < end, byte(i) == UInt8(ascii: ".") {
            i &+= 1
            guard i < end, isDigit(byte(i)) else {
                throw JSONError(offset: i, reason: "expected a digit after the decimal point")
            }
            i = skipDigits(i &+ 1)
        }
        if i < end, byte(i) | 0x20 == UInt8(ascii: "e") {
            i &+= 1
            if i < end, byte(i) == UInt8(ascii: "+") || byte(i) == UInt8(ascii: "-") { i &+= 1 }
            guard i < end, isDigit(byte(i)) else {
                throw JSONError(offset: i, reason: "expected a digit in the exponent")
            }
            i = skipDigits(i &+ 1)
        }
        return i
    }

    /// The first offset at or after `i` that is not an ASCII digit (or `end`).
    @inline(__always)
    func skipDigits(_ i: Int) -> Int {
        var i = i
        while i < end, isDigit(byte(i)) { i &+= 1 }
        return i
    }

    /// The error for an unexpected byte at `i`: a specific reason for the usual suspects
    /// (comments, single quotes), `fallback` otherwise.
    func unexpected(_ i: Int, _ fallback: StaticString) -> JSONError {
        let reason: StaticString
        switch byte(i) {
        case UInt8(ascii: "/"): reason = "comments are not allowed"
        case UInt8(ascii: "'"): reason = "single-quoted strings are not allowed"
        default: reason = fallback
        }
        return JSONError(offset: i, reason: reason)
    }

    /// The error for a byte at `i` that cannot start a value: `unexpected`, plus the number
    /// spellings RFC 8259 §6 leaves out (`+1`, `.5`).
    func notAValue(_ i: Int) -> JSONError {
        switch byte(i) {
        case UInt8(ascii: "+"): return JSONError(offset: i, reason: "leading '+' in number")
        case UInt8(ascii: "."): return JSONError(offset: i, reason: "number must start with a digit")
        default: return unexpected(i, "expected a value")
        }
    }
}

/// RFC 8259 §2 whitespace: space, horizontal tab, line feed, carriage return.
@inline(__always)
func isJSONWhitespace(_ b: UInt8) -> Bool {
    let mask: UInt64 = 1 << 0x20 | 1 << 0x09 | 1 << 0x0A | 1 << 0x0D
    return b <= 0x20 && (mask >> UInt64(b)) & 1 != 0
}

/// `DIGIT = %x30-39` (RFC 5234 B.1).
@inline(__always)
func isDigit(_ b: UInt8) -> Bool { b &- 0x30 < 10 }
