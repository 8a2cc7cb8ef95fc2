import Testing
@testable import WebSocket

/// Every rule that fails the connection, with its close code (RFC 6455 §5, §7.4; RFC 7692 §6).
@Suite("Frame parser failures")
struct FrameParserFailureTests {
    static func events(_ bytes: [UInt8], _ config: WebSocketFrameParser.Configuration = server) -> [Event] {
        drive(config, bytes, cuts: [])
    }

    @Test("§5.1 an unmasked client frame fails with 1002 (server role)")
    func unmaskedClientFrame() {
        #expect(Self.events(hex("81 05 48 65 6c 6c 6f")) == [.fail(1002)])
        #expect(Self.events(hex("81")) == [])  // undecided with one byte
    }

    @Test("§5.1 a masked server frame fails with 1002 (client role)")
    func maskedServerFrame() {
        #expect(Self.events(hex("81 85 37 fa 21 3d 7f 9f 4d 51 58"), client) == [.fail(1002)])
    }

    @Test("§5.2 RSV2, RSV3, and RSV1 without permessage-deflate fail with 1002")
    func reservedBits() {
        for b0: UInt8 in [0xA1, 0x91, 0xC1] {
            var bytes = frame(.text, Array("x".utf8))
            bytes[0] = b0
            #expect(Self.events(bytes) == [.fail(1002)], "b0 \(b0)")
        }
    }

    @Test("RFC 7692 §6 RSV1 only on the first frame of a data message, and only when negotiated")
    func rsv1Rules() {
        let deflate = WebSocketFrameParser.Configuration(permessageDeflate: true)
        #expect(Self.events(frame(.binary, [1], rsv1: true), deflate) == [.message(.binary, [1], compressed: true)])
        let fragmented = frame(.text, [0xF2], fin: false, rsv1: true) + frame(.continuation, [0x48])
        #expect(Self.events(fragmented, deflate) == [.message(.text, [0xF2, 0x48], compressed: true)])
        #expect(Self.events(frame(.text, [1], fin: false, rsv1: true) + frame(.continuation, [2], rsv1: true), deflate) == [.fail(1002)])
        #expect(Self.events(frame(.ping, [], rsv1: true), deflate) == [.fail(1002)])
    }

    @Test("§5.2 reserved opcodes 3–7 and B–F fail with 1002")
    func reservedOpcodes() {
        for op: UInt8 in [3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF] {
            var bytes = frame(.binary, [])
            bytes[0] = 0x80 | op
            #expect(Self.events(bytes) == [.fail(1002)], "opcode \(op)")
        }
    }

    @Test("§5.5 control frames must be final and at most 125 bytes")
    func controlFrameRules() {
        #expect(Self.events(frame(.ping, [], fin: false)) == [.fail(1002)])
        #expect(Self.events(frame(.ping, Array(repeating: 0, count: 126))) == [.fail(1002)])
        #expect(Self.events(frame(.ping, Array(repeating: 7, count: 125))) == [.ping(Array(repeating: 7, count: 125))])
    }

    @Test("§5.4 continuation without a message, or a new message inside one, fails with 1002")
    func fragmentationRules() {
        #expect(Self.events(frame(.continuation, [1])) == [.fail(1002)])
        #expect(Self.events(frame(.text, [0x61], fin: false) + frame(.text, [0x62])) == [.fail(1002)])
        #expect(Self.events(frame(.binary, [1], fin: false) + frame(.ping, [9]) + frame(.continuation, [2])) == [.ping([9]), .message(.binary, [1, 2], compressed: false)])
    }

    @Test("§5.2 a 64-bit length with the most significant bit set fails with 1002")
    func lengthHighBit() {
        #expect(Self.events(hex("82 FF 80 00 00 00 00 00 00 05 37 fa 21 3d")) == [.fail(1002)])
    }

    @Test("§5.2 non-minimal length encodings are accepted")
    func nonMinimalLength() {
        #expect(Self.events(hex("82 7E 00 01 00 00 00 00 07")) == [.fail(1002)])  // unmasked: still 1002
        #expect(drive(client, hex("82 7E 00 01 07"), cuts: []) == [.message(.binary, [7], compressed: false)])
        #expect(drive(client, hex("82 7F 00 00 00 00 00 00 00 01 07"), cuts: [3]) == [.message(.binary, [7], compressed: false)])
    }

    @Test("§7.4.1 1009 when a message exceeds the limit, decided from the header")
    func messageTooBig() {
        let small = WebSocketFrameParser.Configuration(maxMessageSize: 100)
        #expect(Self.events(frame(.binary, Array(repeating: 0, count: 100)), small).count == 1)
        // The header alone is enough to refuse: no payload bytes are needed.
        #expect(Self.events(Array(frame(.binary, Array(repeating: 0, count: 101))[..<8]), small) == [.fail(1009)])
        let fragments = frame(.binary, Array(repeating: 0, count: 60), fin: false) + frame(.continuation, Array(repeating: 0, count: 41))
        #expect(Self.events(fragments, small) == [.fail(1009)])
    }

    @Test("§8.1 invalid UTF-8 fails with 1007 inside a fragment, before the final fragment arrives")
    func invalidUTF8FailsFast() {
        var parser = WebSocketFrameParser(configuration: server)
        let first = frame(.text, Array("κόσ".utf8), fin: false)
        let second = frame(.continuation, [0xED, 0xA0, 0x80, 0x61], fin: false)  // surrogate
        #expect(drive(&parser, reads: [first, second]) == [.fail(1007)])
        // Even inside a frame whose payload has not all arrived yet.
        var streaming = WebSocketFrameParser(configuration: server)
        let big = frame(.text, [0x61, 0x62, 0xC0, 0xAF] + Array(repeating: 0x61, count: 200))
        #expect(drive(&streaming, reads: [Array(big[..<12])]) == [.fail(1007)])
    }

    @Test("§8.1 a text message ending inside a UTF-8 sequence fails with 1007")
    func truncatedUTF8() {
        #expect(Self.events(frame(.text, [0x61, 0xE2, 0x82])) == [.fail(1007)])
        #expect(Self.events(frame(.text, [0xE2], fin: false) + frame(.continuation, [0x82])) == [.fail(1007)])
        #expect(Self.events(frame(.text, [0xE2], fin: false) + frame(.continuation, [0x82, 0xAC])) == [.message(.text, [0xE2, 0x82, 0xAC], compressed: false)])
    }

    @Test("§5.5.1 close payloads: empty, or a valid code plus a UTF-8 reason")
    func closeFrames() {
        #expect(Self.events(frame(.close, [])) == [.close(nil, [])])
        #expect(Self.events(frame(.close, [0x03])) == [.fail(1002)])
        #expect(Self.events(frame(.close, [0x03, 0xE8, 0xC0, 0xAF])) == [.fail(1007)])
        #expect(Self.events(frame(.close, hex("0f a0") + Array("done".utf8))) == [.close(4000, Array("done".utf8))])
    }

    @Test("§7.4 close codes: which received codes are valid")
    func closeCodes() {
        for code: UInt16 in [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999] {
            #expect(CloseCode.isValidReceived(code), "\(code)")
            #expect(Self.events(frame(.close, [UInt8(code >> 8), UInt8(code & 0xFF)])) == [.close(code, [])])
        }
        for code: UInt16 in [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535] {
            #expect(!CloseCode.isValidReceived(code), "\(code)")
            #expect(Self.events(frame(.close, [UInt8(code >> 8), UInt8(code & 0xFF)])) == [.fail(1002)])
        }
    }

    @Test("after a failure every call repeats it; after a close the rest is ignored")
    func terminalStates() {
        var failed = WebSocketFrameParser(configuration: server)
        _ = drive(&failed, reads: [frame(.continuation, [])])
        var again = frame(.binary, [1])
        let repeated = again.withUnsafeMutableBytes { raw -> Bool in
            if case .fail(1002, _) = failed.parse(raw) { return true }
            return false
        }
        #expect(repeated)
        var closed = WebSocketFrameParser(configuration: server)
        #expect(drive(&closed, reads: [frame(.close, []) + frame(.binary, [1])]) == [.close(nil, [])])
        let ignored = again.withUnsafeMutableBytes { closed.parse($0).consumed }
        #expect(ignored == again.count)
    }
}
