import Testing
@testable import WebSocket

/// RFC 7692 §7.2 compression and decompression.
@Suite("permessage-deflate codec (RFC 7692 §7.2)")
struct DeflateCodecTests {
    static func compress(_ c: DeflateCompressor, _ bytes: [UInt8]) -> [UInt8]? {
        bytes.withUnsafeBytes { c.compress($0).map(Array.init) }
    }

    static func inflate(_ i: PerMessageInflater, _ bytes: [UInt8], text: Bool = false) -> Result<[UInt8], CodeError> {
        bytes.withUnsafeBytes { raw in
            switch i.inflate(raw, isText: text) {
            case .message(let out): return .success(Array(out))
            case .fail(let code, _): return .failure(CodeError(code: code))
            }
        }
    }

    struct CodeError: Error, Equatable { var code: UInt16 }

    @Test("§7.2.3.1 \"Hello\" compresses to f2 48 cd c9 c9 07 00 and back")
    func helloVector() {
        let c = DeflateCompressor(noContextTakeover: true)
        #expect(Self.compress(c, Array("Hello".utf8)) == hex("f2 48 cd c9 c9 07 00"))
        #expect(!c.holdsStream)  // freed after the message
        let i = PerMessageInflater(noContextTakeover: true)
        #expect(Self.inflate(i, hex("f2 48 cd c9 c9 07 00"), text: true) == .success(Array("Hello".utf8)))
        #expect(!i.holdsStream)
        // §7.2.3.3: the same message as stored (uncompressed) deflate blocks.
        #expect(Self.inflate(i, hex("00 05 00 fa ff 48 65 6c 6c 6f 00")) == .success(Array("Hello".utf8)))
    }

    @Test("§7.2.3.2 context takeover: the second \"Hello\" is f2 00 11 00 00")
    func contextTakeoverVector() {
        let c = DeflateCompressor(noContextTakeover: false)
        #expect(Self.compress(c, Array("Hello".utf8)) == hex("f2 48 cd c9 c9 07 00"))
        #expect(Self.compress(c, Array("Hello".utf8)) == hex("f2 00 11 00 00"))
        let i = PerMessageInflater(noContextTakeover: false)
        #expect(Self.inflate(i, hex("f2 48 cd c9 c9 07 00")) == .success(Array("Hello".utf8)))
        #expect(Self.inflate(i, hex("f2 00 11 00 00")) == .success(Array("Hello".utf8)))
        #expect(i.holdsStream)
    }

    @Test("§7.2.3.4 a BFINAL block ends the message; §7.2.3.6 an empty message")
    func finalBlockAndEmpty() {
        let i = PerMessageInflater(noContextTakeover: false)
        #expect(Self.inflate(i, hex("f3 48 cd c9 c9 07 00")) == .success(Array("Hello".utf8)))
        #expect(Self.inflate(i, hex("f2 48 cd c9 c9 07 00")) == .success(Array("Hello".utf8)))
        let c = DeflateCompressor()
        #expect(Self.compress(c, []) == [0x00])
        #expect(Self.inflate(i, [0x00]) == .success([]))
    }

    @Test("decompression bomb: 10 MB of zeros with a 1 MB limit fails with 1009")
    func bomb() {
        let c = DeflateCompressor()
        let zeros = [UInt8](repeating: 0, count: 10_000_000)
        guard let bomb = Self.compress(c, zeros) else { Issue.record("compress failed"); return }
        #expect(bomb.count < 20_000)
        let i = PerMessageInflater(noContextTakeover: true, maxMessageSize: 1_000_000)
        #expect(Self.inflate(i, bomb) == .failure(CodeError(code: 1009)))
        #expect(i.output.capacity <= 1_000_001)
        // Exactly at the limit is fine.
        let exact = Self.compress(c, [UInt8](repeating: 0, count: 1_000_000))!
        #expect((try? Self.inflate(i, exact).get().count) == 1_000_000)
    }

    @Test("corrupt data fails with 1007; invalid UTF-8 text after inflating fails with 1007")
    func corrupt() {
        let i = PerMessageInflater(noContextTakeover: true)
        #expect(Self.inflate(i, hex("ff ff ff ff")) == .failure(CodeError(code: 1007)))
        let c = DeflateCompressor()
        let bad = Self.compress(c, [0x61, 0xED, 0xA0, 0x80])!
        #expect(Self.inflate(i, bad, text: true) == .failure(CodeError(code: 1007)))
        #expect(Self.inflate(i, bad, text: false) == .success([0x61, 0xED, 0xA0, 0x80]))
    }

    @Test("random round trips, with and without context takeover, across window sizes")
    func roundTrips() {
        var rng = SystemRandomNumberGenerator()
        for takeover in [false, true] {
            for bits in [9, 12, 15] {
                let c = DeflateCompressor(windowBits: bits, noContextTakeover: !takeover)
                let i = PerMessageInflater(noContextTakeover: !takeover)
                for _ in 0..<12 {
                    let n = Int.random(in: 0..<40_000, using: &rng)
                    let mask = UInt8.random(in: 0...255, using: &rng)  // vary compressibility
                    var word = rng.next()
                    let message = (0..<n).map { k -> UInt8 in
                        if k % 8 == 0 { word = rng.next() }
                        return UInt8(truncatingIfNeeded: word >> (UInt64(k % 8) * 8)) & mask
                    }
                    guard let packed = Self.compress(c, message) else { Issue.record("compress failed"); return }
                    #expect(Self.inflate(i, packed) == .success(message), "n \(n) bits \(bits) takeover \(takeover)")
                }
            }
        }
    }

    @Test("a compressed message travels through the parser with RSV1 and inflates")
    func throughParser() {
        let c = DeflateCompressor()
        let text = Array(String(repeating: "runwire κόσμε ", count: 50).utf8)
        let packed = Self.compress(c, text)!
        let config = WebSocketFrameParser.Configuration(permessageDeflate: true)
        let stream = frame(.text, Array(packed[..<10]), fin: false, rsv1: true) + frame(.continuation, Array(packed[10...]))
        let events = drive(config, stream, cuts: [7])
        #expect(events == [.message(.text, packed, compressed: true)])
        #expect(Self.inflate(PerMessageInflater(noContextTakeover: true), packed, text: true) == .success(text))
    }
}
