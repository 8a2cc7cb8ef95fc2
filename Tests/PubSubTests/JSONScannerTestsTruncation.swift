import GuardPage
import Testing
import PubSub

/// Truncated documents fail cleanly and nothing is read past the end of the buffer
/// (picohttpparser style: every prefix, against a guard page).
@Suite("JSON truncation and over-read")
struct JSONScannerTestsTruncation {
    /// Whether every proper prefix of `document` must be invalid: true unless the value is a
    /// number (a prefix of `123` is `12`) or the prefix could be the value plus whitespace.
    static func prefixesMustFail(_ document: String) -> Bool {
        guard let first = document.trimmingJSONWhitespace.utf8.first else { return false }
        return first != UInt8(ascii: "-") && !(UInt8(ascii: "0") ... UInt8(ascii: "9")).contains(first)
    }

    @Test("every proper prefix of a valid container, string or literal is rejected", arguments: validJSONDocuments)
    func everyPrefixFails(_ document: String) {
        let bytes = Array(document.trimmingJSONWhitespace.utf8)
        #expect(jsonValidate(bytes).isValid)
        for k in 0 ..< bytes.count {
            let outcome = jsonValidate(Array(bytes[0 ..< k]))
            if Self.prefixesMustFail(document) {
                #expect(!outcome.isValid, "prefix of \(k) bytes of \(document) was accepted")
            }
        }
    }

    @Test("prefixes validated at the end of a readable page never read past the end", arguments: validJSONDocuments)
    func guardPagePrefixes(_ document: String) {
        let bytes = Array(document.utf8)
        for k in 0 ... bytes.count {
            let prefix = Array(bytes[0 ..< k])
            let guarded = withJSONGuardedCopy(prefix) { JSONOutcome(JSONScanner.validate($0)) }
            #expect(guarded == jsonValidate(prefix), "prefix of \(k) bytes of \(document)")
        }
    }

    @Test("walkers on valid documents at the end of a readable page stay inside it", arguments: validJSONDocuments)
    func guardPageWalkers(_ document: String) {
        let bytes = Array(document.utf8)
        withJSONGuardedCopy(bytes) { buffer in
            guard case .success(let value) = JSONScanner.validate(buffer) else {
                Issue.record("rejected \(document)")
                return
            }
            var visited = 0
            walk(buffer, value.range, &visited)
            #expect(visited > 0)
        }
    }

    /// Visits every value below `range` recursively, touching each key and value.
    func walk(_ buffer: UnsafeRawBufferPointer, _ range: Range<Int>, _ visited: inout Int) {
        visited += 1
        switch JSONScanner.kind(at: range.lowerBound, in: buffer) {
        case .array:
            JSONScanner.forEachElement(in: buffer, array: range) { walk(buffer, $0, &visited) }
        case .object:
            JSONScanner.forEachMember(in: buffer, object: range) { key, value in
                #expect(key.lowerBound >= 1 && buffer[key.lowerBound - 1] == UInt8(ascii: "\""))
                #expect(buffer[key.upperBound] == UInt8(ascii: "\""))
                walk(buffer, value, &visited)
            }
        case .string:
            _ = JSONScanner.stringEquals(buffer, range, "abc")
        case .number:
            _ = JSONScanner.nonNegativeInteger(buffer, range)
        case .true, .false, .null:
            break
        }
    }

    @Test("strings ending exactly at the page end, for every length around the 8-byte fast path")
    func fastPathTail() {
        for length in 0 ..< 40 {
            let content = Array(String(repeating: "x", count: length).utf8)
            let quote = UInt8(ascii: "\"")
            let whole = [quote] + content + [quote]
            #expect(withJSONGuardedCopy(whole) { JSONOutcome(JSONScanner.validate($0)) } == .valid(.string, 0 ..< whole.count))
            let open = [quote] + content
            let outcome = withJSONGuardedCopy(open) { JSONOutcome(JSONScanner.validate($0)) }
            #expect(outcome == .invalid(reason: "unterminated string", offset: 0))
        }
    }
}
