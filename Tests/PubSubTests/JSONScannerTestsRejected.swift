import GuardPage
import Testing
import PubSub

/// One invalid input and the error it must produce.
struct RejectedJSON: Sendable, CustomTestStringConvertible {
    let bytes: [UInt8]
    let reason: String
    let offset: Int

    init(_ text: String, _ reason: String, at offset: Int) {
        self.init(Array(text.utf8), reason, at: offset)
    }

    init(_ bytes: [UInt8], _ reason: String, at offset: Int) {
        self.bytes = bytes
        self.reason = reason
        self.offset = offset
    }

    var testDescription: String { "\(bytes.map { $0 < 0x20 || $0 >= 0x7F ? "<\($0)>" : String(UnicodeScalar($0)) }.joined()) → \(reason)" }
}

private let q = UInt8(ascii: "\"")

/// Structure, literals and top level (RFC 8259 §2–§5), in the spirit of JSONTestSuite's n_ cases.
let rejectedStructure: [RejectedJSON] = [
    RejectedJSON("[1,]", "trailing comma", at: 2),
    RejectedJSON("[1, ]", "trailing comma", at: 2),
    RejectedJSON(#"{"a":1,}"#, "trailing comma", at: 6),
    RejectedJSON("[1,,2]", "expected a value", at: 3),
    RejectedJSON("[,1]", "expected a value", at: 1),
    RejectedJSON("]", "expected a value", at: 0),
    RejectedJSON(#"{"a":}"#, "expected a value", at: 5),
    RejectedJSON(#"{"a" 1}"#, "expected ':' after object key", at: 5),
    RejectedJSON(#"{"a",1}"#, "expected ':' after object key", at: 4),
    RejectedJSON("{'a':1}", "single-quoted strings are not allowed", at: 1),
    RejectedJSON("['a']", "single-quoted strings are not allowed", at: 1),
    RejectedJSON("{a:1}", "expected a string key in object", at: 1),
    RejectedJSON("{1:1}", "expected a string key in object", at: 1),
    RejectedJSON("{,}", "expected a string key in object", at: 1),
    RejectedJSON("[1 /* c */]", "comments are not allowed", at: 3),
    RejectedJSON("// c\n1", "comments are not allowed", at: 0),
    RejectedJSON(#"{"a":1 # c"#, "expected ',' or '}' in object", at: 7),
    RejectedJSON("[1 2]", "expected ',' or ']' in array", at: 3),
    RejectedJSON("[1}", "expected ',' or ']' in array", at: 2),
    RejectedJSON(#"{"a":1 "b":2}"#, "expected ',' or '}' in object", at: 7),
    RejectedJSON(#"{"a":1]"#, "expected ',' or '}' in object", at: 6),
    RejectedJSON("tru", "invalid literal (expected true, false or null)", at: 0),
    RejectedJSON("nul", "invalid literal (expected true, false or null)", at: 0),
    RejectedJSON("[fals]", "invalid literal (expected true, false or null)", at: 1),
    RejectedJSON("True", "expected a value", at: 0),
    RejectedJSON("nulll", "unexpected data after the value", at: 4),
    RejectedJSON("{} {}", "unexpected data after the value", at: 3),
    RejectedJSON("1 2", "unexpected data after the value", at: 2),
    RejectedJSON("[1]]", "unexpected data after the value", at: 3),
    RejectedJSON([UInt8(ascii: "1"), 0], "unexpected data after the value", at: 1),
    RejectedJSON([0xEF, 0xBB, 0xBF, UInt8(ascii: "{"), UInt8(ascii: "}")], "byte order mark is not allowed", at: 0),
    RejectedJSON("", "empty input", at: 0),
    RejectedJSON(" \t\r\n", "empty input", at: 4),
    RejectedJSON([0x0C, UInt8(ascii: "1")], "expected a value", at: 0),  // form feed is not ws (§2)
    RejectedJSON([0xC2, 0xA0, UInt8(ascii: "1")], "expected a value", at: 0),  // nor is NBSP
    RejectedJSON("[1, 2", "unterminated array", at: 5),
    RejectedJSON("[", "unterminated array", at: 1),
    RejectedJSON("[1,", "unterminated array", at: 3),
    RejectedJSON("{", "unterminated object", at: 1),
    RejectedJSON(#"{"a""#, "unterminated object", at: 4),
    RejectedJSON(#"{"a":"#, "unterminated object", at: 5),
    RejectedJSON(#"{"a": 1"#, "unterminated object", at: 7),
]

/// Numbers (RFC 8259 §6).
let rejectedNumbers: [RejectedJSON] = [
    RejectedJSON("01", "leading zero in number", at: 0),
    RejectedJSON("-01", "leading zero in number", at: 0),
    RejectedJSON("[00]", "leading zero in number", at: 1),
    RejectedJSON("-", "expected a digit after '-'", at: 1),
    RejectedJSON("-a", "expected a digit after '-'", at: 1),
    RejectedJSON("-Infinity", "expected a digit after '-'", at: 1),
    RejectedJSON("1.", "expected a digit after the decimal point", at: 2),
    RejectedJSON("1.e5", "expected a digit after the decimal point", at: 2),
    RejectedJSON("[1.]", "expected a digit after the decimal point", at: 3),
    RejectedJSON(".1", "number must start with a digit", at: 0),
    RejectedJSON("+1", "leading '+' in number", at: 0),
    RejectedJSON("1e", "expected a digit in the exponent", at: 2),
    RejectedJSON("1e+", "expected a digit in the exponent", at: 3),
    RejectedJSON("1E-x", "expected a digit in the exponent", at: 3),
    RejectedJSON("NaN", "expected a value", at: 0),
    RejectedJSON("Infinity", "expected a value", at: 0),
    RejectedJSON("0x1F", "unexpected data after the value", at: 1),
    RejectedJSON("1.5.5", "unexpected data after the value", at: 3),
]

/// Strings: escapes and control characters (RFC 8259 §7) and UTF-8 (RFC 8259 §8.1, RFC 3629 §4).
let rejectedStrings: [RejectedJSON] = [
    RejectedJSON(#""\x""#, "invalid escape", at: 1),
    RejectedJSON(#""\'""#, "invalid escape", at: 1),
    RejectedJSON(#""abcdefghij\q""#, "invalid escape", at: 11),
    RejectedJSON(#""\u12""#, "invalid \\u escape (needs 4 hex digits)", at: 1),
    RejectedJSON(#""\u12G4""#, "invalid \\u escape (needs 4 hex digits)", at: 1),
    RejectedJSON(#""\U0041""#, "invalid escape", at: 1),
    RejectedJSON([q, UInt8(ascii: "a"), 0x01, UInt8(ascii: "b"), q], "unescaped control character in string", at: 2),
    RejectedJSON([q, UInt8(ascii: "a"), 0x09, UInt8(ascii: "b"), q], "unescaped control character in string", at: 2),
    RejectedJSON([q, 0x0A, q], "unescaped control character in string", at: 1),
    RejectedJSON([q, 0x00, q], "unescaped control character in string", at: 1),
    RejectedJSON([q] + Array("abcdefghij".utf8) + [0x1F, q], "unescaped control character in string", at: 11),
    RejectedJSON([q, 0xC0, 0xAF, q], "invalid UTF-8 in string", at: 1),  // overlong "/"
    RejectedJSON([q, 0xE0, 0x80, 0xAF, q], "invalid UTF-8 in string", at: 1),  // overlong 3-byte
    RejectedJSON([q, 0xF0, 0x8F, 0xBF, 0xBF, q], "invalid UTF-8 in string", at: 1),  // overlong 4-byte
    RejectedJSON([q, 0xED, 0xA0, 0x80, q], "invalid UTF-8 in string", at: 1),  // surrogate U+D800
    RejectedJSON([q, 0xF4, 0x90, 0x80, 0x80, q], "invalid UTF-8 in string", at: 1),  // U+110000
    RejectedJSON([q, 0xF5, 0x80, 0x80, 0x80, q], "invalid UTF-8 in string", at: 1),
    RejectedJSON([q, 0x80, q], "invalid UTF-8 in string", at: 1),  // lone continuation
    RejectedJSON([q, 0xFF, q], "invalid UTF-8 in string", at: 1),
    RejectedJSON([q, 0xE2, 0x82, q], "invalid UTF-8 in string", at: 1),  // truncated €
    RejectedJSON([q, 0xC3, UInt8(ascii: "a"), q], "invalid UTF-8 in string", at: 1),
    RejectedJSON([q] + Array("abcdefghi".utf8) + [0xFE, q], "invalid UTF-8 in string", at: 10),
    RejectedJSON([0x80], "expected a value", at: 0),  // UTF-8 outside strings is no token
    RejectedJSON(#""abc"#, "unterminated string", at: 0),
    RejectedJSON(#"["abcdefghijklmnop"#, "unterminated string", at: 1),
    RejectedJSON(#""a\"#, "unterminated string", at: 0),
    RejectedJSON(#""\u00"#, "unterminated string", at: 0),
    RejectedJSON([q, 0xE2, 0x82], "unterminated string", at: 0),
]

/// Invalid inputs are rejected with the right reason at the right byte.
@Suite("JSON rejected (RFC 8259, JSONTestSuite n_ style)")
struct JSONScannerTestsRejected {
    @Test("RFC 8259 §2–§5: structure, literals, top level", arguments: rejectedStructure)
    func structure(_ input: RejectedJSON) { check(input) }

    @Test("RFC 8259 §6: number grammar", arguments: rejectedNumbers)
    func numbers(_ input: RejectedJSON) { check(input) }

    @Test("RFC 8259 §7, §8.1: escapes, control characters, UTF-8", arguments: rejectedStrings)
    func strings(_ input: RejectedJSON) { check(input) }

    func check(_ input: RejectedJSON) {
        #expect(jsonValidate(input.bytes) == .invalid(reason: input.reason, offset: input.offset))
        // The same error where the input ends right before an unreadable page.
        let guarded = withJSONGuardedCopy(input.bytes) { JSONOutcome(JSONScanner.validate($0)) }
        #expect(guarded == .invalid(reason: input.reason, offset: input.offset))
    }
}
