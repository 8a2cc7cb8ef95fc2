import CShimCrypto
import PubSub

/// Subscriber tokens (API.md "Subscriber tokens"): a JWT signed with HS256 using
/// `TOKEN_SECRET`, with `exp` (seconds since the epoch), `runs` (run ids, or `["*"]`) and
/// optionally `nbf` (seconds since the epoch; refused before it, RFC 7519 §4.1.5). Only HS256 is accepted (`alg: none` and every other algorithm are refused, RFC 8725 §3.1).
enum SubscriberToken {
    /// Why a token was refused; `status` is what an HTTP upgrade answers.
    enum Refusal: Error, Equatable {
        case missing, malformed, badSignature, expired, notYetValid, outOfScope

        var status: Int { self == .outOfScope ? 403 : 401 }
        var code: String {
            switch self {
            case .missing: return "token_required"
            case .malformed: return "invalid_token"
            case .badSignature: return "invalid_token"
            case .expired: return "token_expired"
            case .notYetValid: return "token_not_yet_valid"
            case .outOfScope: return "token_out_of_scope"
            }
        }
        var message: String {
            switch self {
            case .missing: return "subscribing needs a token (?token= or \"token\" in the subscribe message)"
            case .malformed: return "the token is not a JWT (header.payload.signature, base64url)"
            case .badSignature: return "the token's signature does not verify (or it is not HS256)"
            case .expired: return "the token has expired"
            case .notYetValid: return "the token is not valid yet: its nbf (not before) lies in the future"
            case .outOfScope: return "the token does not grant this run"
            }
        }
    }

    /// Checks `token` for `runId` at `now` (seconds) with `secret`.
    static func verify(_ token: UnsafeRawBufferPointer?, runId: String, secret: String, now: Double) -> Refusal? {
        guard let token, token.count > 0 else { return .missing }
        guard let dot1 = token.firstIndex(of: UInt8(ascii: ".")),
              let dot2 = token[(dot1 + 1)...].firstIndex(of: UInt8(ascii: ".")) else { return .malformed }
        guard let header = base64URLDecode(UnsafeRawBufferPointer(rebasing: token[0..<dot1])),
              let payload = base64URLDecode(UnsafeRawBufferPointer(rebasing: token[(dot1 + 1)..<dot2])),
              let signature = base64URLDecode(UnsafeRawBufferPointer(rebasing: token[(dot2 + 1)...])) else { return .malformed }
        // The signature first: nothing in an unauthenticated payload is trusted.
        var mac = [UInt8](repeating: 0, count: 32)
        var key = secret
        key.withUTF8 { k in CShim_hmac_sha256(k.baseAddress, k.count, token.baseAddress, dot2, &mac) }
        guard signature.count == 32, CShim_equal_ct(mac, signature, 32) == 1 else { return .badSignature }
        let alg = header.withUnsafeBytes { member("alg", in: $0) }
        guard let alg, header.withUnsafeBytes({ JSONScanner.stringEquals($0, alg, "HS256") }) else { return .badSignature }
        return payload.withUnsafeBytes { p -> Refusal? in
            guard let exp = member("exp", in: p), let seconds = JSONScanner.nonNegativeInteger(p, exp) else { return .malformed }
            if Double(seconds) <= now { return .expired }
            if let nbf = member("nbf", in: p) {
                guard let notBefore = JSONScanner.nonNegativeInteger(p, nbf) else { return .malformed }
                if Double(notBefore) > now { return .notYetValid }
            }
            guard let runs = member("runs", in: p), JSONScanner.kind(at: runs.lowerBound, in: p) == .array else { return .malformed }
            var granted = false
            JSONScanner.forEachElement(in: p, array: runs) { r in
                guard r.count >= 2, p[r.lowerBound] == UInt8(ascii: "\"") else { return }
                let text = UnsafeRawBufferPointer(rebasing: p[(r.lowerBound + 1)..<(r.upperBound - 1)])
                if text.elementsEqual("*".utf8) || text.elementsEqual(runId.utf8) { granted = true }
            }
            return granted ? nil : .outOfScope
        }
    }

    /// The value range of top-level member `name` of a JSON object in `bytes`.
    private static func member(_ name: String, in bytes: UnsafeRawBufferPointer) -> Range<Int>? {
        guard case .success(let top) = JSONScanner.validate(bytes), top.kind == .object else { return nil }
        var found: Range<Int>?
        JSONScanner.forEachMember(in: bytes, object: top.range) { key, value in
            if found == nil && UnsafeRawBufferPointer(rebasing: bytes[key]).elementsEqual(name.utf8) { found = value }
        }
        return found
    }

    /// RFC 4648 §5 base64url without padding (as JWTs use, RFC 7515 §2).
    static func base64URLDecode(_ s: UnsafeRawBufferPointer) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(s.count * 3 / 4)
        var acc: UInt32 = 0, bits = 0
        for c in s {
            let v: UInt32
            switch c {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): v = UInt32(c - UInt8(ascii: "A"))
            case UInt8(ascii: "a")...UInt8(ascii: "z"): v = UInt32(c - UInt8(ascii: "a")) + 26
            case UInt8(ascii: "0")...UInt8(ascii: "9"): v = UInt32(c - UInt8(ascii: "0")) + 52
            case UInt8(ascii: "-"): v = 62
            case UInt8(ascii: "_"): v = 63
            default: return nil
            }
            acc = acc << 6 | v
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: acc >> UInt32(bits)))
            }
        }
        return bits >= 6 ? nil : out // a lone trailing character cannot be base64
    }
}
