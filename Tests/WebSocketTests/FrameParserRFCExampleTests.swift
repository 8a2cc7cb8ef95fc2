import Testing
@testable import WebSocket

/// RFC 6455 §5.7 example frames, fed whole, byte by byte and split at every offset.
@Suite("RFC 6455 §5.7 examples")
struct FrameParserRFCExampleTests {
    static let hello = Array("Hello".utf8)

    /// Every single cut, and every byte on its own, give the same events as the whole input.
    static func expectEverySplit(_ config: WebSocketFrameParser.Configuration, _ bytes: [UInt8], _ expected: [Event]) {
        #expect(drive(config, bytes, cuts: []) == expected)
        #expect(drive(config, bytes, cuts: Array(0..<bytes.count)) == expected, "byte by byte")
        for cut in 1..<bytes.count {
            #expect(drive(config, bytes, cuts: [cut]) == expected, "cut at \(cut)")
        }
    }

    @Test("§5.7 single-frame unmasked text \"Hello\" (client role)")
    func unmaskedHello() {
        Self.expectEverySplit(client, hex("81 05 48 65 6c 6c 6f"), [.message(.text, Self.hello, compressed: false)])
    }

    @Test("§5.7 single-frame masked text \"Hello\" (server role)")
    func maskedHello() {
        Self.expectEverySplit(server, hex("81 85 37 fa 21 3d 7f 9f 4d 51 58"), [.message(.text, Self.hello, compressed: false)])
    }

    @Test("§5.7 fragmented unmasked text \"Hel\" + \"lo\"")
    func fragmentedHello() {
        Self.expectEverySplit(client, hex("01 03 48 65 6c 80 02 6c 6f"), [.message(.text, Self.hello, compressed: false)])
    }

    @Test("§5.7 unmasked ping and masked pong with body \"Hello\"")
    func pingPong() {
        Self.expectEverySplit(client, hex("89 05 48 65 6c 6c 6f"), [.ping(Self.hello)])
        Self.expectEverySplit(server, hex("8a 85 37 fa 21 3d 7f 9f 4d 51 58"), [.pong(Self.hello)])
    }

    @Test("§5.7 256-byte binary: 16-bit length 82 7E 0100")
    func binary256() {
        let payload = (0..<256).map { UInt8(truncatingIfNeeded: $0) }
        let bytes = hex("82 7E 01 00") + payload
        #expect(frame(.binary, payload, mask: nil) == bytes)
        #expect(drive(client, bytes, cuts: []) == [.message(.binary, payload, compressed: false)])
        for cut in [1, 2, 3, 4, 5, 100, 259] {
            #expect(drive(client, bytes, cuts: [cut]) == [.message(.binary, payload, compressed: false)], "cut \(cut)")
        }
    }

    @Test("§5.7 64 KiB binary: 64-bit length 82 7F 0000000000010000")
    func binary64K() {
        let payload = (0..<65536).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let bytes = hex("82 7F 00 00 00 00 00 01 00 00") + payload
        #expect(frame(.binary, payload, mask: nil) == bytes)
        #expect(drive(client, bytes, cuts: []) == [.message(.binary, payload, compressed: false)])
        #expect(drive(client, bytes, cuts: [9, 10, 11, 4000, 65000]) == [.message(.binary, payload, compressed: false)])
        let masked = frame(.binary, payload)
        #expect(drive(server, masked, cuts: [3, 13, 14, 15, 1001, 1002, 1003, 30001]) == [.message(.binary, payload, compressed: false)])
    }

    @Test("§5.4 multi-frame stream with a ping between fragments, split at every offset")
    func interleavedStream() {
        let text = Array("fragmented κόσμε text across frames".utf8)
        let stream = frame(.text, Array(text[..<13]), fin: false)  // cuts inside "κ" (2 bytes)
            + frame(.ping, Array("p1".utf8))
            + frame(.continuation, Array(text[13..<20]), fin: false)
            + frame(.continuation, [], fin: false)
            + frame(.continuation, Array(text[20...]))
            + frame(.binary, [1, 2, 3])
            + frame(.pong, [])
            + frame(.close, hex("03 e8") + Array("bye".utf8))
        let expected: [Event] = [
            .ping(Array("p1".utf8)), .message(.text, text, compressed: false),
            .message(.binary, [1, 2, 3], compressed: false), .pong([]), .close(1000, Array("bye".utf8)),
        ]
        Self.expectEverySplit(server, stream, expected)
    }

    @Test("a complete unfragmented frame is returned in place (zero copy)")
    func zeroCopy() {
        var parser = WebSocketFrameParser(configuration: server)
        var bytes = hex("81 85 37 fa 21 3d 7f 9f 4d 51 58")
        bytes.withUnsafeMutableBytes { raw in
            guard case .message(.text, let payload, false, 11) = parser.parse(raw) else {
                Issue.record("expected a message"); return
            }
            #expect(payload.baseAddress == UnsafeRawPointer(raw.baseAddress! + 6))
            #expect(Array(payload) == Self.hello)
        }
        let capacity = parser.bufferCapacity
        #expect(capacity == 0)
    }

    @Test("split messages use the message buffer, which is reused and can be released")
    func bufferReuseAndRelease() {
        var parser = WebSocketFrameParser(configuration: server)
        let bytes = frame(.binary, Array(repeating: 9, count: 1000))
        #expect(drive(&parser, reads: [Array(bytes[..<500]), Array(bytes[500...])]) == [.message(.binary, Array(repeating: 9, count: 1000), compressed: false)])
        let capacity = parser.bufferCapacity
        #expect(capacity >= 1000)
        _ = drive(&parser, reads: [Array(bytes[..<10]), Array(bytes[10...])])
        let reused = parser.bufferCapacity
        #expect(reused == capacity)
        let released = parser.releaseBuffer()
        let afterRelease = parser.bufferCapacity
        #expect(released && afterRelease == 0)
        _ = drive(&parser, reads: [frame(.text, Array("ab".utf8), fin: false)])
        let partial = parser.hasPartialMessage
        let releasedPartial = parser.releaseBuffer()
        #expect(partial)
        #expect(!releasedPartial)  // a partial message is never dropped
    }
}
