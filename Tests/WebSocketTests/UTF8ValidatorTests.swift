import Testing
@testable import WebSocket

/// RFC 3629 §4 / RFC 6455 §8.1: text payloads must be valid UTF-8.
@Suite("UTF-8 validation (RFC 3629 §4, RFC 6455 §8.1)")
struct UTF8ValidatorTests {
    static func valid(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { UTF8Validator.validate($0) }
    }

    @Test("valid sequences of every length and the boundary code points")
    func validSequences() {
        let cases: [[UInt8]] = [
            [], Array("Hello, world".utf8), Array("κόσμε".utf8), Array("𝄞 music €".utf8),
            [0x7F], [0xC2, 0x80], [0xDF, 0xBF], [0xE0, 0xA0, 0x80], [0xED, 0x9F, 0xBF],
            [0xEE, 0x80, 0x80], [0xEF, 0xBF, 0xBF], [0xF0, 0x90, 0x80, 0x80], [0xF4, 0x8F, 0xBF, 0xBF],
            Array(String(repeating: "abcdefgh", count: 9).utf8) + [0xE2, 0x82, 0xAC] + Array("tail!!!!".utf8),
        ]
        for bytes in cases { #expect(Self.valid(bytes), "\(bytes)") }
    }

    @Test("invalid: overlongs, surrogates, above U+10FFFF, stray and truncated sequences")
    func invalidSequences() {
        let cases: [[UInt8]] = [
            [0xC0, 0xAF], [0xC1, 0xBF], [0xE0, 0x80, 0xAF], [0xE0, 0x9F, 0xBF], [0xF0, 0x80, 0x80, 0xAF],
            [0xF0, 0x8F, 0xBF, 0xBF], [0xED, 0xA0, 0x80], [0xED, 0xBF, 0xBF], [0xF4, 0x90, 0x80, 0x80],
            [0xF5, 0x80, 0x80, 0x80], [0xFF], [0xFE], [0x80], [0xBF], [0x61, 0x80],
            [0xCE, 0xBA, 0xE1, 0xBD, 0xB9, 0xCF, 0x83, 0xCE, 0xBC, 0xCE, 0xB5, 0xED, 0xA0, 0x80, 0x65, 0x64, 0x69, 0x74, 0x65, 0x64],
            [0xC2], [0xE2, 0x82], [0xF0, 0x9D, 0x84], Array("12345678".utf8) + [0xE2, 0x28, 0xA1],
        ]
        for bytes in cases { #expect(!Self.valid(bytes), "\(bytes)") }
    }

    @Test("streaming: a sequence split at every offset validates like the whole")
    func splitEverywhere() {
        let text = Array("aé€𝄞z, κόσμε — 12345678 ✓".utf8)
        for cut in 0...text.count {
            var v = UTF8Validator()
            let ok = text[..<cut].withUnsafeBytes { v.feed($0) } && text[cut...].withUnsafeBytes { v.feed($0) }
            #expect(ok && v.isComplete, "cut at \(cut)")
        }
    }

    @Test("fails fast on the first invalid byte, before the message ends")
    func failsFast() {
        var v = UTF8Validator()
        let first = ([0xCE, 0xBA, 0xE1] as [UInt8]).withUnsafeBytes { v.feed($0) }
        #expect(first)
        #expect(!v.isComplete)  // mid-sequence: not complete yet, not failed either
        let second = ([0xBD, 0xED, 0xA0] as [UInt8]).withUnsafeBytes { v.feed($0) }
        #expect(!second)
        #expect(v.hasFailed)
        let third = Array("ok".utf8).withUnsafeBytes { v.feed($0) }
        #expect(!third)  // sticky
    }

    @Test("agrees with the standard library on random byte strings")
    func agreesWithStdlib() {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<3000 {
            let count = Int.random(in: 0..<24, using: &rng)
            let bytes = (0..<count).map { _ in
                // Bias towards interesting bytes so multi-byte paths are exercised.
                Bool.random(using: &rng) ? UInt8.random(in: 0x80...0xF5, using: &rng) : UInt8.random(in: 0...0x7F, using: &rng)
            }
            let expected = String(validating: bytes, as: UTF8.self) != nil
            #expect(Self.valid(bytes) == expected, "\(bytes)")
        }
    }
}
