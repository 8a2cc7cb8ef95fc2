import Testing
import PubSub

/// RFC 8259 documents the scanner must accept, with the kind and range it reports.
@Suite("JSON accepted (RFC 8259)")
struct JSONScannerTestsAccepted {
    @Test("RFC 8259 §13 examples: the image object and the array of two addresses")
    func rfcSection13Examples() {
        let image = Array(rfc8259ImageExample.utf8)
        #expect(jsonValidate(image) == .valid(.object, 0 ..< image.count))
        let addresses = Array(rfc8259AddressExample.utf8)
        #expect(jsonValidate(addresses) == .valid(.array, 0 ..< addresses.count))
    }

    @Test("every shared valid document validates and spans its text without outer whitespace")
    func sharedValidDocuments() {
        for document in validJSONDocuments {
            let bytes = Array(document.utf8)
            let outcome = jsonValidate(bytes)
            guard case .valid(_, let range) = outcome else {
                Issue.record("rejected \(document): \(outcome)")
                continue
            }
            let trimmed = document.trimmingJSONWhitespace
            #expect(jsonText(bytes, range) == trimmed)
        }
    }

    @Test("RFC 8259 §2: top-level scalars of every kind, with their kind and range", arguments: [
        ("\"s\"", JSONKind.string), ("0", .number), ("-0", .number), ("1.5e-10", .number), ("1E+2", .number),
        ("-123.456", .number), ("true", .true), ("false", .false), ("null", .null), ("{}", .object), ("[]", .array),
    ])
    func topLevelScalars(text: String, kind: JSONKind) {
        #expect(jsonValidate(text) == .valid(kind, 0 ..< text.utf8.count))
        #expect(jsonValidate(" \(text)\n") == .valid(kind, 1 ..< 1 + text.utf8.count))
    }

    @Test("RFC 8259 §6: number grammar corner cases", arguments: [
        "0", "-0", "0.0", "-0.0e0", "0e0", "0E-0", "1e+999", "123456789012345678901234567890",
        "1.5e-10", "1E+2", "-123.456", "9.999e9", "1e00",
    ])
    func numbers(text: String) {
        #expect(jsonValidate(text) == .valid(.number, 0 ..< text.utf8.count))
    }

    @Test("RFC 8259 §7: every escape, including \\u with both cases of hex")
    func allEscapes() {
        let text = #""\"\\\/\b\f\n\r\t\u0000\u001f\uABCD\uabcd\u00E9""#
        #expect(jsonValidate(text) == .valid(.string, 0 ..< text.utf8.count))
    }

    @Test("RFC 8259 §8.2: escaped lone surrogates are accepted (grammar allows them; never decoded)")
    func loneSurrogateEscapes() {
        for text in [#""\uD800""#, #""\uDFFF""#, #""\uDC00\uD800""#] {
            #expect(jsonValidate(text).isValid, "\(text)")
        }
    }

    @Test("RFC 8259 §8.1: multi-byte UTF-8 of every length, at every alignment of the fast path")
    func unicodeText() {
        let samples = ["é", "€", "😀", "\u{10FFFF}", "\u{7FF}", "\u{800}", "\u{FFFF}", "\u{10000}", "κόσμε 𝄞"]
        for sample in samples {
            for pad in 0 ..< 9 {
                let text = "\"" + String(repeating: "a", count: pad) + sample + String(repeating: "b", count: pad) + "\""
                #expect(jsonValidate(text) == .valid(.string, 0 ..< text.utf8.count), "\(text)")
            }
        }
    }

    @Test("RFC 8259 §4, §5, §7: empty object, array and string")
    func emptyContainers() {
        #expect(jsonValidate("{}") == .valid(.object, 0 ..< 2))
        #expect(jsonValidate("[]") == .valid(.array, 0 ..< 2))
        #expect(jsonValidate("\"\"") == .valid(.string, 0 ..< 2))
        #expect(jsonValidate("{ }") == .valid(.object, 0 ..< 3))
        #expect(jsonValidate("[\n]") == .valid(.array, 0 ..< 3))
        #expect(jsonValidate(#"[{},[],"",{"":{}}]"#).isValid)
    }

    @Test("RFC 8259 §2: whitespace is allowed around every structural character")
    func whitespaceEverywhere() {
        let text = " \t\r\n[ \t\r\n{ \t\r\n\"k\" \t\r\n: \t\r\nnull \t\r\n, \"j\":1} \t\r\n, \t\r\ntrue \t\r\n] \t\r\n"
        #expect(jsonValidate(text) == .valid(.array, 4 ..< text.utf8.count - 4))
    }

    @Test("RFC 8259 §9: nesting exactly maxDepth deep is accepted, one more is rejected")
    func depthLimit() {
        let arrays64 = String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
        #expect(jsonValidate(arrays64) == .valid(.array, 0 ..< 128))
        let arrays65 = String(repeating: "[", count: 65) + String(repeating: "]", count: 65)
        #expect(jsonValidate(arrays65) == .invalid(reason: "nesting deeper than maxDepth", offset: 64))
        let mixed64 = String(repeating: #"{"a":["#, count: 32) + "1" + String(repeating: "]}", count: 32)
        #expect(jsonValidate(mixed64).isValid)
        let mixed65 = "[" + mixed64 + "]"
        #expect(jsonValidate(mixed65) == .invalid(reason: "nesting deeper than maxDepth", offset: 64 + 4 * 32))
        #expect(jsonValidate("[[1]]", maxDepth: 1) == .invalid(reason: "nesting deeper than maxDepth", offset: 1))
        #expect(jsonValidate("1", maxDepth: 0).isValid)
        #expect(!jsonValidate("[]", maxDepth: 0).isValid)
    }

    @Test("depth stack crosses its 64-bit words: 300 alternating levels close in the right order")
    func deepAlternatingNesting() {
        let open = String(repeating: #"{"k":["#, count: 150)
        let close = String(repeating: "]}", count: 150)
        #expect(jsonValidate(open + close, maxDepth: 300).isValid)
        #expect(!jsonValidate(open + String(repeating: "}]", count: 150), maxDepth: 300).isValid)
        let arrays600 = String(repeating: "[", count: 600) + String(repeating: "]", count: 600)
        #expect(jsonValidate(arrays600, maxDepth: 10_000) == .invalid(reason: "nesting deeper than maxDepth", offset: 512))
    }

    @Test("JSONError.message reads '<reason> at byte <offset>'")
    func errorMessage() {
        let error = JSONError(offset: 3, reason: "trailing comma")
        #expect(error.message == "trailing comma at byte 3")
        #expect(error == JSONError(offset: 3, reason: "trailing comma"))
        #expect(error != JSONError(offset: 3, reason: "trailing commas"))
    }
}

extension String {
    /// The string without RFC 8259 §2 whitespace at either end.
    var trimmingJSONWhitespace: String {
        let ws: Set<Character> = [" ", "\t", "\n", "\r", "\r\n"]
        var s = Substring(self)
        while let first = s.first, ws.contains(first) { s = s.dropFirst() }
        while let last = s.last, ws.contains(last) { s = s.dropLast() }
        return String(s)
    }
}
