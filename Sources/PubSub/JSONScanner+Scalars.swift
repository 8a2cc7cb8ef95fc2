// Reading scalars of a validated buffer for control messages (`{"op":"subscribe",...}`):
// compare a string to a literal and read a sequence number, both without decoding into
// `String` or `Double`.

extension JSONScanner {
    /// The kind of the (validated) value starting at `bytes[offset]`; the first byte decides,
    /// so `offset` must be the start of a value inside `bytes`.
    public static func kind(at offset: Int, in bytes: UnsafeRawBufferPointer) -> JSONKind {
        kindOfValue(startingWith: bytes[offset])
    }

    /// The kind of a valid value from its first byte (RFC 8259 §3: the first byte decides).
    @inline(__always)
    static func kindOfValue(startingWith b: UInt8) -> JSONKind {
        switch b {
        case UInt8(ascii: "{"): return .object
        case UInt8(ascii: "["): return .array
        case UInt8(ascii: "\""): return .string
        case UInt8(ascii: "t"): return .true
        case UInt8(ascii: "f"): return .false
        case UInt8(ascii: "n"): return .null
        default: return .number
        }
    }

    /// Convenience for control messages: true when the raw string value at `range` (a
    /// validated JSON string INCLUDING its quotes) contains no backslash escapes and its
    /// content equals `literal` byte for byte. An escaped spelling of the same text
    /// (`"sub\u0073cribe"`) is deliberately false: matching it would need decoding.
    public static func stringEquals(
        _ bytes: UnsafeRawBufferPointer, _ range: Range<Int>, _ literal: StaticString
    ) -> Bool {
        guard let base = bytes.baseAddress, range.lowerBound >= 0, range.upperBound <= bytes.count,
            range.count >= 2
        else { return false }
        let quote = UInt8(ascii: "\"")
        guard base.load(fromByteOffset: range.lowerBound, as: UInt8.self) == quote,
            base.load(fromByteOffset: range.upperBound &- 1, as: UInt8.self) == quote
        else { return false }
        let content = range.lowerBound &+ 1
        let count = range.count &- 2
        return literal.withUTF8Buffer { expected in
            guard expected.count == count else { return false }
            for k in 0 ..< count {
                let b = base.load(fromByteOffset: content &+ k, as: UInt8.self)
                if b == UInt8(ascii: "\\") || b != expected[k] { return false }
            }
            return true
        }
    }

    /// Parses a validated JSON number at `range` that must be a non-negative integer without
    /// fraction/exponent and fit Int64; nil otherwise. Any minus sign gives nil, `-0`
    /// included, and so do `1.0` and `1e2` although they are whole numbers (RFC 8259 §6 makes
    /// them distinct spellings; a sequence number is written as a plain integer).
    public static func nonNegativeInteger(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> Int64? {
        guard let base = bytes.baseAddress, range.lowerBound >= 0, range.upperBound <= bytes.count,
            !range.isEmpty
        else { return nil }
        // RFC 8259 §6: int = zero / ( digit1-9 *DIGIT ).
        if range.count > 1, base.load(fromByteOffset: range.lowerBound, as: UInt8.self) == UInt8(ascii: "0") {
            return nil
        }
        var value: Int64 = 0
        for i in range {
            let digit = base.load(fromByteOffset: i, as: UInt8.self) &- UInt8(ascii: "0")
            guard digit < 10 else { return nil }
            let (times10, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(Int64(digit))
            if o1 || o2 { return nil }
            value = sum
        }
        return value
    }
}
