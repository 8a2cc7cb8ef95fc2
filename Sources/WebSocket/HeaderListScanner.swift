/// Splits an HTTP header value into list items (RFC 9110 §5.6.1), honouring quoted strings
/// (RFC 9110 §5.6.4) so a separator inside quotes does not split. Items are trimmed of
/// optional whitespace; nothing is copied — items are ranges into the value.
struct HeaderListScanner {
    let bytes: UnsafeRawBufferPointer
    let separator: UInt8
    private var position: Int
    private let end: Int
    private var done = false

    init(_ bytes: UnsafeRawBufferPointer, range: Range<Int>? = nil, separator: UInt8) {
        self.bytes = bytes
        self.separator = separator
        position = range?.lowerBound ?? 0
        end = range?.upperBound ?? bytes.count
    }

    /// The next item's trimmed range (possibly empty: "a,,b" has an empty middle item), or
    /// nil after the last one. An empty value is one empty item.
    mutating func next() -> Range<Int>? {
        if done { return nil }
        let start = position
        var i = start
        var quoted = false
        while i < end {
            let b = bytes[i]
            if quoted {
                if b == UInt8(ascii: "\\") { i &+= 1 } else if b == UInt8(ascii: "\"") { quoted = false }
            } else if b == UInt8(ascii: "\"") {
                quoted = true
            } else if b == separator {
                break
            }
            i &+= 1
        }
        let itemEnd = min(i, end)
        if itemEnd >= end { done = true } else { position = itemEnd &+ 1 }
        return Self.trim(bytes, start..<itemEnd)
    }

    /// Removes spaces and tabs at both ends (RFC 9110 §5.6.3 OWS).
    static func trim(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> Range<Int> {
        var lower = range.lowerBound
        var upper = range.upperBound
        while lower < upper && (bytes[lower] == 0x20 || bytes[lower] == 0x09) { lower &+= 1 }
        while upper > lower && (bytes[upper &- 1] == 0x20 || bytes[upper &- 1] == 0x09) { upper &-= 1 }
        return lower..<upper
    }

    /// ASCII case-insensitive comparison of `bytes[range]` with `literal` (lowercase).
    static func equalsIgnoringCase(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>, _ literal: StaticString) -> Bool {
        guard range.count == literal.utf8CodeUnitCount else { return false }
        let lit = literal.utf8Start
        for k in 0..<range.count {
            var b = bytes[range.lowerBound &+ k]
            if b >= 0x41 && b <= 0x5A { b |= 0x20 }
            if b != lit[k] { return false }
        }
        return true
    }
}
