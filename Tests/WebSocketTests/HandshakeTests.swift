import Testing
@testable import WebSocket

/// RFC 6455 §4.2 opening handshake helpers.
@Suite("Handshake (RFC 6455 §4.2)")
struct HandshakeTests {
    static func bytes<R>(_ s: String, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        Array(s.utf8).withUnsafeBytes(body)
    }

    @Test("§1.3 accept value for the sample nonce")
    func acceptKey() {
        let accept = Self.bytes("dGhlIHNhbXBsZSBub25jZQ==") { WebSocketHandshake.acceptKey(forKey: $0) }
        #expect(accept.string == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
        #expect(accept.withUnsafeBytes { $0.count } == 28)
        let padded = Self.bytes("  dGhlIHNhbXBsZSBub25jZQ== ") { WebSocketHandshake.acceptKey(forKey: $0) }
        #expect(padded.string == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
        let other = Self.bytes("x3JJHMbDL1EzLkh9GBhXDw==") { WebSocketHandshake.acceptKey(forKey: $0) }
        #expect(other.string == "HSmrc0sMlYUkAGmm5OPpG2HaGWk=")
    }

    @Test("§4.2.1 the key is base64 of exactly 16 bytes")
    func validateKey() {
        for good in ["dGhlIHNhbXBsZSBub25jZQ==", "AAAAAAAAAAAAAAAAAAAAAA==", "+/+/+/+/+/+/+/+/+/+/+w=="] {
            #expect(Self.bytes(good) { WebSocketHandshake.validateKey($0) }, "\(good)")
        }
        for bad in ["", "dGhlIHNhbXBsZSBub25jZQ=", "dGhlIHNhbXBsZSBub25jZQ===", "dGhlIHNhbXBsZSBub25jZQQ=",
                    "dGhlIHNhbXBsZSBub25jZ!==", "dGhlIHNhbXBsZSBub25jZQ", "dGhlIHNhbXBsZSBub25jZSBub25jZQ=="] {
            #expect(!Self.bytes(bad) { WebSocketHandshake.validateKey($0) }, "\(bad)")
        }
    }

    @Test("§4.2.1 only version 13 is supported (else 426 with Sec-WebSocket-Version: 13)")
    func version() {
        #expect(Self.bytes("13") { WebSocketHandshake.isSupportedVersion($0) })
        #expect(Self.bytes(" 13 ") { WebSocketHandshake.isSupportedVersion($0) })
        for bad in ["8", "12", "130", "", "1 3"] {
            #expect(!Self.bytes(bad) { WebSocketHandshake.isSupportedVersion($0) }, "\(bad)")
        }
        #expect(WebSocketHandshake.supportedVersion.description == "13")
    }

    @Test("§4.2.2 subprotocol: the server's first supported choice among the offered")
    func subprotocol() {
        let supported = ["runwire.v2", "runwire.v1"]
        #expect(Self.bytes("runwire.v1, runwire.v2") { WebSocketHandshake.selectSubprotocol(offered: $0, supported: supported) } == "runwire.v2")
        #expect(Self.bytes("chat,runwire.v1") { WebSocketHandshake.selectSubprotocol(offered: $0, supported: supported) } == "runwire.v1")
        #expect(Self.bytes("chat, Runwire.v1, ,") { WebSocketHandshake.selectSubprotocol(offered: $0, supported: supported) } == nil)
        #expect(Self.bytes("") { WebSocketHandshake.selectSubprotocol(offered: $0, supported: supported) } == nil)
    }
}
