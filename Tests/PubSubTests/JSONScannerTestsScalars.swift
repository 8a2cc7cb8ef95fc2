import Testing
import PubSub

/// Reading control-message fields: string comparison and sequence numbers.
@Suite("JSON scalars: stringEquals, nonNegativeInteger")
struct JSONScannerTestsScalars {
    static func equals(_ json: String, _ literal: StaticString) -> Bool {
        let bytes = Array(json.utf8)
        return bytes.withUnsafeBytes { buffer in
            guard case .success(let value) = JSONScanner.validate(buffer), value.kind == .string else { return false }
            return JSONScanner.stringEquals(buffer, value.range, literal)
        }
    }

    static func integer(_ json: String) -> Int64? {
        let bytes = Array(json.utf8)
        return bytes.withUnsafeBytes { buffer in
            guard case .success(let value) = JSONScanner.validate(buffer), value.kind == .number else { return -999 }
            return JSONScanner.nonNegativeInteger(buffer, value.range)
        }
    }

    @Test("stringEquals matches raw content byte for byte and refuses escapes")
    func stringEquals() {
        #expect(Self.equals(#""subscribe""#, "subscribe"))
        #expect(Self.equals(#""""#, ""))
        #expect(Self.equals(#""é😀""#, "é😀"))
        #expect(Self.equals(#""a""#, "a"))  // single-scalar StaticString
        #expect(!Self.equals(#""subscribe""#, "subscrib"))
        #expect(!Self.equals(#""subscribe""#, "subscribes"))
        #expect(!Self.equals(#""Subscribe""#, "subscribe"))
        #expect(!Self.equals(#""sub\u0073cribe""#, "subscribe"))  // same text, escaped: not decoded
        #expect(!Self.equals(#""a\"b""#, #"a\"b"#))  // any backslash means escapes
        #expect(!Self.equals(#""a\\b""#, #"a\\b"#))
    }

    @Test("stringEquals is false for a range that is not a quoted string")
    func stringEqualsNonString() {
        let bytes = Array(#"[abc]"#.utf8)
        bytes.withUnsafeBytes { buffer in
            #expect(!JSONScanner.stringEquals(buffer, 0 ..< 5, "abc"))
            #expect(!JSONScanner.stringEquals(buffer, 1 ..< 4, "b"))
            #expect(!JSONScanner.stringEquals(buffer, 0 ..< 1, ""))
            #expect(!JSONScanner.stringEquals(buffer, 0 ..< 9, "abc"))
        }
    }

    @Test("nonNegativeInteger: Int64 range, no sign, no fraction or exponent", arguments: [
        ("0", Int64?.some(0)), ("7", 7), ("1234567890", 1_234_567_890),
        ("9223372036854775807", Int64.max), ("9223372036854775808", nil), ("99999999999999999999", nil),
        ("-1", nil), ("-0", nil), ("1.0", nil), ("1e2", nil), ("10E0", nil), ("0.5", nil),
    ])
    func nonNegativeInteger(text: String, expected: Int64?) {
        #expect(Self.integer(text) == expected)
    }
}
