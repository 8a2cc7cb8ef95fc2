import CShimCrypto

/// Signed download URLs: `HMAC-SHA256(secret, "GET\n<path>\n<expires>\n<key id>")`.
///
/// The `signature` parameter is the key id (8 hex digits: the first 4 bytes of SHA-256 of
/// `runwire-url-key:` followed by the secret)
/// followed by the 64 hex digits of the MAC, so a URL names the key that signed it. The first
/// secret signs; every secret verifies, which lets `URL_SIGNING_SECRET` be rotated: move the old
/// secret to `URL_SIGNING_SECRET_PREVIOUS`, and URLs it signed stay valid until they expire.
public struct URLSigner: Sendable {
    struct Key: Sendable {
        let id: String
        let secret: [UInt8]
    }

    private let keys: [Key]

    /// The outcome of checking a request against its signature.
    public enum Verdict: Equatable, Sendable {
        case valid
        /// No `signature` or `expires` (403).
        case missing
        /// The signature does not match the path and expiry, or names an unknown key (403).
        case invalid
        /// Genuine, but past its expiry (410).
        case expired
        /// Genuine, but its expiry lies further ahead than any URL lives (`maxLifetime`, plus
        /// `clockLeeway`): no URL the server hands out looks like that, and it would never
        /// expire in practice (403).
        case tooFarAhead
    }

    /// The longest a signed URL lives: the largest `SIGNED_URL_TTL`, 7 days.
    public static let maxLifetime: Int64 = 604_800
    /// Seconds by which another instance's clock may run ahead of this one's: a URL it signed
    /// with the longest lifetime still verifies here.
    public static let clockLeeway: Int64 = 300

    /// `secrets[0]` signs; all verify. Must not be empty.
    public init(secrets: [String]) {
        precondition(!secrets.isEmpty, "a signer needs a secret")
        keys = secrets.map { s in
            let bytes = Array(s.utf8)
            var digest = [UInt8](repeating: 0, count: 32)
            let label = Array("runwire-url-key:".utf8) + bytes
            CShim_sha256(label, label.count, &digest)
            return Key(id: Hex.encode(digest[0..<4]), secret: bytes)
        }
    }

    /// The signing key's id.
    public var currentKeyID: String { keys[0].id }

    private static func mac(_ key: Key, path: String, expires: Int64) -> [UInt8] {
        let message = Array("GET\n\(path)\n\(expires)\n\(key.id)".utf8)
        var out = [UInt8](repeating: 0, count: 32)
        CShim_hmac_sha256(key.secret, key.secret.count, message, message.count, &out)
        return out
    }

    /// The `signature` value for `path` (e.g. `/files/r1/abc`) valid until `expires` (unix s).
    public func sign(path: String, expires: Int64) -> String {
        keys[0].id + Hex.encode(Self.mac(keys[0], path: path, expires: expires))
    }

    /// Checks `signature` and `expires` (raw query values) for `path` at `now` (unix s).
    /// The MAC is checked before the expiry, so an altered expiry is `invalid`, not `expired`;
    /// a genuine expiry more than `maxLifetime` (+ `clockLeeway`) after `now` is `tooFarAhead`.
    public func verify(path: String, expires: String?, signature: String?, now: Double) -> Verdict {
        guard let expires, let signature else { return .missing }
        guard signature.utf8.count == 72, let exp = Int64(expires), expires.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }),
              let given = Hex.decode(signature.utf8.dropFirst(8)) else { return .invalid }
        let kid = String(signature.prefix(8)).lowercased()
        guard let key = keys.first(where: { $0.id == kid }) else { return .invalid }
        let expected = Self.mac(key, path: path, expires: exp)
        guard CShim_equal_ct(expected, given, 32) == 1 else { return .invalid }
        if Double(exp) < now { return .expired }
        return Double(exp) > now + Double(Self.maxLifetime + Self.clockLeeway) ? .tooFarAhead : .valid
    }
}
