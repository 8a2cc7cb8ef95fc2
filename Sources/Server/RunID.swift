import CShimCrypto
import HTTP1
#if canImport(Glibc)
import Glibc
#endif

/// Ids of runs and artifacts: `[A-Za-z0-9_.-]{1,128}`, not `.` or `..` (API.md).
enum RunID {
    /// The id as a String when `bytes` is a valid id, else nil.
    static func parse(_ bytes: UnsafeRawBufferPointer) -> String? {
        guard bytes.count >= 1, bytes.count <= 128 else { return nil }
        for b in bytes {
            switch b {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "-"):
                continue
            default:
                return nil
            }
        }
        if bytes.count <= 2 && bytes.allSatisfy({ $0 == UInt8(ascii: ".") }) { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// `key=value&…` query parameters (values used here need no percent-decoding: digits, hex
/// epochs, base64url tokens and keys; a `%` makes the value invalid rather than guessed).
struct Query {
    let bytes: UnsafeRawBufferPointer

    /// The raw value of `name`, or nil.
    func value(_ name: StaticString) -> UnsafeRawBufferPointer? {
        let n = UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount)
        var i = 0
        while i < bytes.count {
            var end = i
            while end < bytes.count && bytes[end] != UInt8(ascii: "&") { end += 1 }
            var eq = i
            while eq < end && bytes[eq] != UInt8(ascii: "=") { eq += 1 }
            if eq - i == n.count && memcmp(bytes.baseAddress! + i, n.baseAddress!, n.count) == 0 {
                return UnsafeRawBufferPointer(rebasing: bytes[Swift.min(eq + 1, end)..<end])
            }
            i = end + 1
        }
        return nil
    }

    struct Malformed: Error {}

    /// A non-negative integer parameter; `.failure` when present but malformed.
    func integer(_ name: StaticString) -> Result<Int64?, Malformed> {
        guard let v = value(name) else { return .success(nil) }
        guard v.count > 0, v.count <= 18, v.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return .failure(Malformed()) }
        return .success(v.reduce(Int64(0)) { $0 * 10 + Int64($1 - 48) })
    }

    func string(_ name: StaticString) -> String? {
        value(name).map { String(decoding: $0, as: UTF8.self) }
    }
}

extension UnsafeRawBufferPointer {
    /// Whether the bytes equal `s` (constant time; for secrets).
    func equalsSecret(_ s: String) -> Bool {
        var s = s
        return s.withUTF8 { k in k.count == count && CShim_equal_ct(k.baseAddress, baseAddress, count) == 1 }
    }
}
