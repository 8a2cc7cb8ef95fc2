import GuardPage
import HTTP1
import Testing

/// RFC 9112 §3 (request line), §5 (fields), §6 (framing), §9.3 (persistence):
/// every accepted form reports exactly the expected fields.
@Suite("Accepted request heads")
struct AcceptedRequestTests {
    @Test("every accepted form parses to the expected head", arguments: validVectors)
    func acceptedForm(_ vector: ValidVector) {
        let parsed = parse(vector.input)
        #expect(check(vector, parsed) == [])
    }

    @Test("the parser never reads past the end of the buffer (guard page)", arguments: validVectors)
    func boundedReads(_ vector: ValidVector) {
        let head = Array(vector.input.prefix(vector.headLength))
        for k in [head.count, head.count - 1, head.count / 2, 1, 0] {
            let parsed = withGuardedCopy(Array(head.prefix(k))) { parse($0) }
            #expect(parsed.result == (k == head.count ? .complete(headLength: k) : .partial))
        }
    }

    @Test("header(_:) finds the first field ignoring case; hasToken reads Connection lists")
    func headerLookup() {
        let input = bytes(
            "GET / HTTP/1.1\r\nHost: a\r\nX-Dup: one\r\nx-dup: two\r\nConnection: keep-alive, Upgrade\r\n\r\n")
        var head = RequestHead()
        var slots = [HTTPHeaderSlot](repeating: HTTPHeaderSlot(), count: 8)
        input.withUnsafeBytes { buffer in
            slots.withUnsafeMutableBufferPointer { slotBuffer in
                #expect(RequestParser.parse(buffer, maxHeadBytes: 1024, slots: slotBuffer, into: &head)
                    == .complete(headLength: input.count))
                let readOnly = UnsafeBufferPointer(slotBuffer)
                let dup = head.header("x-dup", in: buffer, slots: readOnly)
                #expect(dup.map { String(decoding: $0, as: UTF8.self) } == "one")
                #expect(head.header("host", in: buffer, slots: readOnly).map { Array($0) } == Array("a".utf8))
                #expect(head.header("missing", in: buffer, slots: readOnly) == nil)
                #expect(head.hasToken("upgrade", inHeader: "connection", in: buffer, slots: readOnly))
                #expect(head.hasToken("keep-alive", inHeader: "connection", in: buffer, slots: readOnly))
                #expect(!head.hasToken("close", inHeader: "connection", in: buffer, slots: readOnly))
                #expect(!head.hasToken("one", inHeader: "host", in: buffer, slots: readOnly))
            }
        }
    }

    @Test("a head of exactly maxHeadBytes is accepted")
    func headAtLimit() {
        let request = "GET / HTTP/1.1\r\nHost: a\r\n\r\n"
        let n = request.utf8.count
        #expect(parse(request, maxHeadBytes: n).result == .complete(headLength: n))
        #expect(parse(request, maxHeadBytes: n - 1).result == .invalid(.headTooLarge))
    }

    @Test("exactly as many fields as slots is accepted")
    func fieldsFillSlots() {
        let request = "GET / HTTP/1.1\r\nHost: a\r\nB: b\r\n\r\n"
        let parsed = parse(request, slotCount: 2)
        #expect(parsed.head.headerCount == 2)
        #expect(parsed.result == .complete(headLength: request.utf8.count))
    }
}
