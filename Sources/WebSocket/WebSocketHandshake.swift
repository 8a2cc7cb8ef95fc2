import CShimCrypto

/// The server side of the opening handshake (RFC 6455 §4.2): key checks, the accept value,
/// version and subprotocol selection. The HTTP parser hands in raw header values.
public enum WebSocketHandshake {
    /// RFC 6455 §1.3: the GUID appended to the client's key before hashing.
    public static let guid: StaticString = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
    /// RFC 6455 §4.4: the only version we speak. On any other `Sec-WebSocket-Version` the
    /// server answers `426 Upgrade Required` with `Sec-WebSocket-Version: 13`.
    public static let supportedVersion: StaticString = "13"

    /// The 28-byte `Sec-WebSocket-Accept` value (base64 of a 20-byte SHA-1), held inline.
    public struct AcceptValue: Sendable {
        /// The value's length in bytes.
        public static let count = 28
        var storage: (UInt64, UInt64, UInt64, UInt32) = (0, 0, 0, 0)

        /// The 28 ASCII bytes, for writing straight into a response buffer.
        public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
            try Swift.withUnsafeBytes(of: storage) { try body(UnsafeRawBufferPointer(rebasing: $0[0..<Self.count])) }
        }

        /// The value as a String (allocates; for tests and logs).
        public var string: String {
            withUnsafeBytes { String(decoding: $0, as: UTF8.self) }
        }
    }

    /// RFC 6455 §4.2.2 step 5.4: base64(SHA-1(key + GUID)). `key` is the
    /// `Sec-WebSocket-Key` value; surrounding whitespace is ignored.
    public static func acceptKey(forKey key: UnsafeRawBufferPointer) -> AcceptValue {
        let trimmed = UnsafeRawBufferPointer(rebasing: key[HeaderListScanner.trim(key, 0..<key.count)])
        let total = trimmed.count &+ guid.utf8CodeUnitCount
        var value = AcceptValue()
        withUnsafeTemporaryAllocation(byteCount: total, alignment: 1) { joined in
            if trimmed.count > 0 { joined.copyMemory(from: trimmed) }
            UnsafeMutableRawBufferPointer(rebasing: joined[trimmed.count...])
                .copyMemory(from: UnsafeRawBufferPointer(start: guid.utf8Start, count: guid.utf8CodeUnitCount))
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digest in
                CShim_sha1(joined.baseAddress, total, digest.baseAddress)
                withUnsafeTemporaryAllocation(of: CChar.self, capacity: 32) { text in
                    _ = CShim_base64_encode(digest.baseAddress, 20, text.baseAddress)
                    Swift.withUnsafeMutableBytes(of: &value.storage) { out in
                        out.copyMemory(from: UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(text)[0..<AcceptValue.count]))
                    }
                }
            }
        }
        return value
    }

    /// RFC 6455 §4.2.1 item 5: the key must be base64 that decodes to exactly 16 bytes, i.e.
    /// 22 base64 characters then "==". Non-zero padding bits in the 22nd character are
    /// tolerated (a strict decoder would reject them; browsers never send them).
    public static func validateKey(_ key: UnsafeRawBufferPointer) -> Bool {
        let range = HeaderListScanner.trim(key, 0..<key.count)
        guard range.count == 24 else { return false }
        for i in range.lowerBound..<(range.lowerBound &+ 22) where !isBase64(key[i]) { return false }
        return key[range.lowerBound &+ 22] == UInt8(ascii: "=") && key[range.lowerBound &+ 23] == UInt8(ascii: "=")
    }

    static func isBase64(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "+"), UInt8(ascii: "/"):
            return true
        default:
            return false
        }
    }

    /// RFC 6455 §4.2.1 item 6: true when the `Sec-WebSocket-Version` value is exactly 13.
    public static func isSupportedVersion(_ value: UnsafeRawBufferPointer) -> Bool {
        let range = HeaderListScanner.trim(value, 0..<value.count)
        return range.count == 2 && value[range.lowerBound] == UInt8(ascii: "1") && value[range.lowerBound &+ 1] == UInt8(ascii: "3")
    }

    /// RFC 6455 §4.2.2 step 5.5 / §11.3.4: picks the subprotocol to echo in
    /// `Sec-WebSocket-Protocol`. `offered` is the client's header value (a comma list; when
    /// the header is repeated, join the values with commas). The server's preference wins:
    /// the first entry of `supported` the client offered. Tokens compare case-sensitively.
    /// Nil means "send no `Sec-WebSocket-Protocol` header".
    public static func selectSubprotocol(offered: UnsafeRawBufferPointer, supported: [String]) -> String? {
        for candidate in supported {
            var scanner = HeaderListScanner(offered, separator: UInt8(ascii: ","))
            while let item = scanner.next() {
                if !item.isEmpty && candidate.utf8.elementsEqual(UnsafeRawBufferPointer(rebasing: offered[item])) {
                    return candidate
                }
            }
        }
        return nil
    }
}
