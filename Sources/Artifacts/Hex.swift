import CShimCrypto

/// Lower-case hex of bytes (digests, random ids, signatures).
public enum Hex {
    private static let digits = Array("0123456789abcdef".utf8)

    /// `bytes` as lower-case hex.
    public static func encode<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// `count` cryptographically random bytes (OpenSSL's generator) as `2 × count` hex digits:
    /// artifact ids, temp-file names, the URL-signing secret, lock tokens, run epochs.
    /// Traps when the generator fails rather than hand out predictable bytes.
    public static func random(bytes count: Int) -> String {
        var b = [UInt8](repeating: 0, count: count)
        let ok = b.withUnsafeMutableBytes { CShim_random_bytes($0.baseAddress, count) }
        precondition(ok == 1, "no random bytes from OpenSSL")
        return encode(b)
    }

    /// The bytes of an even-length hex string (either case); nil when it is not hex.
    public static func decode<C: Collection>(_ text: C) -> [UInt8]? where C.Element == UInt8 {
        guard text.count % 2 == 0 else { return nil }
        var out = [UInt8]()
        out.reserveCapacity(text.count / 2)
        var high: UInt8 = 0
        var odd = false
        for c in text {
            let v: UInt8
            switch c {
            case 48...57: v = c - 48
            case 97...102: v = c - 87
            case 65...70: v = c - 55
            default: return nil
            }
            if odd { out.append(high << 4 | v) } else { high = v }
            odd.toggle()
        }
        return out
    }
}
