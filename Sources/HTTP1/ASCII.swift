// Byte classes shared by the request parser, the chunked decoder and the router.
//
// Classes are 128-bit sets written as two 64-bit constants so a test is a shift and
// a mask with no table in memory and no lazy global initialisation on the hot path.

/// Byte constants named after the RFC 5234 core rules.
@usableFromInline enum ASCII {
    static let cr: UInt8 = 0x0D
    static let lf: UInt8 = 0x0A
    static let sp: UInt8 = 0x20
    static let htab: UInt8 = 0x09
    static let colon: UInt8 = 0x3A
    static let semicolon: UInt8 = 0x3B
    static let comma: UInt8 = 0x2C
    @usableFromInline static let slash: UInt8 = 0x2F
    static let question: UInt8 = 0x3F
    static let star: UInt8 = 0x2A
    static let del: UInt8 = 0x7F
}

/// RFC 9110 §5.6.2: `tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "."
/// / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA`.
@inline(__always)
func isTokenChar(_ b: UInt8) -> Bool {
    let low: UInt64 = 0x03FF_6CFA_0000_0000
    let high: UInt64 = 0x57FF_FFFF_C7FF_FFFE
    if b < 64 { return (low >> UInt64(b)) & 1 != 0 }
    if b < 128 { return (high >> UInt64(b &- 64)) & 1 != 0 }
    return false
}

/// RFC 9110 §5.6.3: `OWS = *( SP / HTAB )`.
@inline(__always)
func isWhitespace(_ b: UInt8) -> Bool {
    b == ASCII.sp || b == ASCII.htab
}

/// RFC 9110 §5.5: `field-vchar = VCHAR / obs-text` (0x21–0x7E, 0x80–0xFF).
@inline(__always)
func isFieldVChar(_ b: UInt8) -> Bool {
    b > ASCII.sp && b != ASCII.del
}

/// Hexadecimal digit value (RFC 5234 `HEXDIG`, either case), or `nil`.
@inline(__always)
func hexValue(_ b: UInt8) -> UInt8? {
    switch b {
    case 0x30...0x39: return b &- 0x30
    case 0x41...0x46: return b &- 0x37
    case 0x61...0x66: return b &- 0x57
    default: return nil
    }
}

/// ASCII lower-casing; other bytes pass through unchanged.
@inline(__always)
func asciiLower(_ b: UInt8) -> UInt8 {
    (b &- 0x41) < 26 ? b | 0x20 : b
}

/// Whether `buffer[start ..< start + length]` equals `lowercase` ignoring ASCII case.
///
/// `lowercase` must already be lower case; only the buffer side is folded.
@inline(__always)
func equalsIgnoringCase(
    _ buffer: UnsafeRawBufferPointer, start: Int, length: Int, _ lowercase: StaticString
) -> Bool {
    guard length == lowercase.utf8CodeUnitCount else { return false }
    let literal = lowercase.utf8Start
    var i = 0
    while i < length {
        if asciiLower(buffer[start &+ i]) != literal[i] { return false }
        i &+= 1
    }
    return true
}

/// Calls `body` with the bounds of each element of a comma-separated list
/// (RFC 9110 §5.6.1) inside `buffer[start ..< end]`, OWS trimmed, empty elements
/// skipped. Stops early when `body` returns `false`.
///
/// `body` is a non-escaping closure, so nothing is allocated.
@inline(__always)
func forEachListElement(
    _ buffer: UnsafeRawBufferPointer, start: Int, end: Int, _ body: (Int, Int) -> Bool
) {
    var i = start
    while i < end {
        while i < end && (isWhitespace(buffer[i]) || buffer[i] == ASCII.comma) { i &+= 1 }
        let elementStart = i
        var elementEnd = i
        while i < end && buffer[i] != ASCII.comma {
            if !isWhitespace(buffer[i]) { elementEnd = i &+ 1 }
            i &+= 1
        }
        if elementEnd > elementStart && !body(elementStart, elementEnd &- elementStart) { return }
    }
}
