import Testing
@testable import WebSocket

/// RFC 6455 §5.2 header encoding and §5.5 control frames.
@Suite("Frame encoder (RFC 6455 §5.2, §5.5)")
struct FrameEncoderTests {
    static func header(_ opcode: WebSocketOpcode, length: Int, fin: Bool = true, rsv1: Bool = false, mask: WebSocketMaskKey? = nil) -> [UInt8] {
        var out = [UInt8](repeating: 0xEE, count: FrameEncoder.maxHeaderLength)
        let n = out.withUnsafeMutableBytes {
            FrameEncoder.writeHeader(into: $0.baseAddress!, fin: fin, rsv1: rsv1, opcode: opcode, payloadLength: length, maskKey: mask)
        }
        #expect(n == FrameEncoder.headerLength(payloadLength: length, masked: mask != nil))
        return Array(out[..<n])
    }

    @Test("§5.2 minimal length encodings at every boundary")
    func lengths() {
        #expect(Self.header(.text, length: 5) == hex("81 05"))
        #expect(Self.header(.binary, length: 125) == hex("82 7D"))
        #expect(Self.header(.binary, length: 126) == hex("82 7E 00 7E"))
        #expect(Self.header(.binary, length: 256) == hex("82 7E 01 00"))
        #expect(Self.header(.binary, length: 65535) == hex("82 7E FF FF"))
        #expect(Self.header(.binary, length: 65536) == hex("82 7F 00 00 00 00 00 01 00 00"))
        #expect(Self.header(.text, length: 3, fin: false, rsv1: true) == hex("41 03"))
        #expect(Self.header(.continuation, length: 2) == hex("80 02"))
        #expect(Self.header(.text, length: 5, mask: WebSocketMaskKey(0x37, 0xFA, 0x21, 0x3D)) == hex("81 85 37 fa 21 3d"))
        #expect(Self.header(.binary, length: 70000, mask: WebSocketMaskKey(1, 2, 3, 4)) == hex("82 FF 00 00 00 00 00 01 11 70 01 02 03 04"))
    }

    @Test("§5.3 masking reproduces the §5.7 masked \"Hello\" and continues the key cycle across chunks")
    func masking() {
        let key = WebSocketMaskKey(0x37, 0xFA, 0x21, 0x3D)
        var hello = Array("Hello".utf8)
        hello.withUnsafeMutableBytes { key.apply(to: $0) }
        #expect(hello == hex("7f 9f 4d 51 58"))
        let plain = (0..<53).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        var whole = plain
        whole.withUnsafeMutableBytes { key.apply(to: $0) }
        for cut in 0...plain.count {
            var pieces = plain
            pieces.withUnsafeMutableBytes { raw in
                key.apply(to: UnsafeMutableRawBufferPointer(rebasing: raw[..<cut]))
                key.apply(to: UnsafeMutableRawBufferPointer(rebasing: raw[cut...]), phase: cut)
            }
            #expect(pieces == whole, "cut \(cut)")
        }
        // Byte-wise reference.
        let reference = plain.enumerated().map { $0.element ^ [0x37, 0xFA, 0x21, 0x3D][$0.offset % 4] }
        #expect(whole == reference)
    }

    @Test("§5.5.3 a pong echoes the ping payload; §5.7 masked pong bytes")
    func pong() {
        var out = [UInt8](repeating: 0, count: FrameEncoder.maxControlFrameLength)
        let ping = Array("Hello".utf8)
        let n = out.withUnsafeMutableBytes { raw in ping.withUnsafeBytes { FrameEncoder.writePong(echoing: $0, into: raw) } }
        #expect(n.map { Array(out[..<$0]) } == hex("8a 05 48 65 6c 6c 6f"))
        let m = out.withUnsafeMutableBytes { raw in
            ping.withUnsafeBytes { FrameEncoder.writePong(echoing: $0, maskKey: WebSocketMaskKey(0x37, 0xFA, 0x21, 0x3D), into: raw) }
        }
        #expect(m.map { Array(out[..<$0]) } == hex("8a 85 37 fa 21 3d 7f 9f 4d 51 58"))
        var tiny = [UInt8](repeating: 0, count: 4)
        let none = tiny.withUnsafeMutableBytes { raw in ping.withUnsafeBytes { FrameEncoder.writePong(echoing: $0, into: raw) } }
        #expect(none == nil)
    }

    @Test("§5.5.1 close frames: code + reason, reason cut at a UTF-8 boundary to fit 125 bytes")
    func close() {
        var out = [UInt8](repeating: 0, count: FrameEncoder.maxControlFrameLength)
        let n = out.withUnsafeMutableBytes { raw in
            Array("bye".utf8).withUnsafeBytes { FrameEncoder.writeClose(code: 1000, reason: $0, into: raw) }
        }
        #expect(n.map { Array(out[..<$0]) } == hex("88 05 03 e8 62 79 65"))
        let empty = out.withUnsafeMutableBytes { FrameEncoder.writeClose(code: nil, into: $0) }
        #expect(empty.map { Array(out[..<$0]) } == hex("88 00"))
        let long = Array(String(repeating: "é", count: 100).utf8)  // 200 bytes of 2-byte characters
        let cut = out.withUnsafeMutableBytes { raw in long.withUnsafeBytes { FrameEncoder.writeClose(code: 1001, reason: $0, into: raw) } }
        #expect(cut == 2 + 2 + 122)  // 123 would split an "é"
        let parsed = drive(client, Array(out[..<(cut ?? 0)]), cuts: [])
        #expect(parsed == [.close(1001, Array(long[..<122]))])
    }
}
