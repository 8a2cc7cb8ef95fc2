import Testing
@testable import WebSocket

/// The contract with the I/O shell: what is consumed when a frame is incomplete.
@Suite("Frame parser buffering contract")
struct FrameParserBufferingTests {
    static func consumed(_ parser: inout WebSocketFrameParser, _ bytes: [UInt8]) -> Int {
        var copy = bytes
        return copy.withUnsafeMutableBytes { parser.parse($0).consumed }
    }

    @Test("an incomplete header or control frame is left to the shell (consumed 0)")
    func incompleteHeaderAndControl() {
        var parser = WebSocketFrameParser(configuration: server)
        let ping = frame(.ping, Array(repeating: 1, count: 125))
        for cut in 0..<ping.count {
            #expect(Self.consumed(&parser, Array(ping[..<cut])) == 0, "cut \(cut)")
        }
        #expect(FrameEncoder.maxControlFrameLength == ping.count)
    }

    @Test("a data frame's partial payload is consumed into the message buffer")
    func partialDataPayloadIsConsumed() {
        var parser = WebSocketFrameParser(configuration: server)
        let big = frame(.binary, Array(repeating: 5, count: 10_000))
        #expect(Self.consumed(&parser, Array(big[..<4])) == 0)  // header incomplete (needs mask)
        #expect(Self.consumed(&parser, Array(big[..<5000])) == 5000)
        let hasPartial = parser.hasPartialMessage
        #expect(hasPartial)
        var rest = Array(big[5000...]) + frame(.ping, [])
        rest.withUnsafeMutableBytes { raw in
            guard case .message(.binary, let payload, false, let n) = parser.parse(raw) else {
                Issue.record("expected the message"); return
            }
            #expect(n == big.count - 5000)
            #expect(payload.count == 10_000 && payload.allSatisfy { $0 == 5 })
        }
    }

    @Test("a control frame between partial fragments does not disturb the assembled message")
    func controlDuringAssembly() {
        let first = frame(.text, Array("abc".utf8), fin: false)
        let last = frame(.continuation, Array("def".utf8))
        var parser = WebSocketFrameParser(configuration: server)
        let ordered = drive(&parser, reads: [first, frame(.ping, Array("x".utf8)), last])
        #expect(ordered == [.ping(Array("x".utf8)), .message(.text, Array("abcdef".utf8), compressed: false)])
    }
}
