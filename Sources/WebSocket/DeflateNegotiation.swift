/// The permessage-deflate parameters agreed for one connection (RFC 7692 §7.1).
public struct DeflateConfig: Sendable, Equatable {
    /// RFC 7692 §7.1.1.1: the server resets its compressor after every message.
    public var serverNoContextTakeover: Bool
    /// RFC 7692 §7.1.1.2: the client resets its compressor after every message, so the
    /// server may free its inflater between messages.
    public var clientNoContextTakeover: Bool
    /// RFC 7692 §7.1.2.1: the window the server compresses with (9...15 here, see `negotiate`).
    public var serverMaxWindowBits: Int
    /// RFC 7692 §7.1.2.2: the largest window the client may compress with (8...15).
    public var clientMaxWindowBits: Int

    /// A configuration; the defaults are RFC 7692's (context takeover, 15-bit windows).
    public init(serverNoContextTakeover: Bool = false, clientNoContextTakeover: Bool = false,
                serverMaxWindowBits: Int = 15, clientMaxWindowBits: Int = 15) {
        self.serverNoContextTakeover = serverNoContextTakeover
        self.clientNoContextTakeover = clientNoContextTakeover
        self.serverMaxWindowBits = serverMaxWindowBits
        self.clientMaxWindowBits = clientMaxWindowBits
    }
}

/// What the server is willing to agree to.
public struct DeflatePolicy: Sendable {
    /// Offer nothing when false: every negotiation declines.
    public var enabled: Bool
    /// Always answer `server_no_context_takeover` (RFC 7692 §7.1.1.1 lets the server add it):
    /// the compressor is then freed after each message, so an idle socket holds no zlib
    /// state, and one compressed publish can be sent to every subscriber.
    public var serverNoContextTakeover: Bool
    /// Always answer `client_no_context_takeover` (RFC 7692 §7.1.1.2): the inflater is then
    /// freed after each message too. Costs ratio on streams of similar small messages.
    public var clientNoContextTakeover: Bool
    /// The largest window the server compresses with, 9...15 (zlib cannot do 8 for raw deflate).
    public var serverMaxWindowBits: Int
    /// The largest window asked of the client when it allows a limit, 8...15.
    public var clientMaxWindowBits: Int
    /// Messages shorter than this go out uncompressed (RFC 7692 §6: compression is per message).
    public var minimumMessageSize: Int

    /// The default policy: enabled, no context takeover either way, 15-bit windows, 256 bytes.
    public init(enabled: Bool = true, serverNoContextTakeover: Bool = true, clientNoContextTakeover: Bool = true,
                serverMaxWindowBits: Int = 15, clientMaxWindowBits: Int = 15, minimumMessageSize: Int = 256) {
        self.enabled = enabled
        self.serverNoContextTakeover = serverNoContextTakeover
        self.clientNoContextTakeover = clientNoContextTakeover
        self.serverMaxWindowBits = min(max(serverMaxWindowBits, 9), 15)
        self.clientMaxWindowBits = min(max(clientMaxWindowBits, 8), 15)
        self.minimumMessageSize = minimumMessageSize
    }

    /// Whether a message of `length` bytes is worth compressing.
    @inlinable
    public func shouldCompress(length: Int) -> Bool { length >= minimumMessageSize }
}

/// permessage-deflate negotiation (RFC 7692 §5, §7.1).
public enum PerMessageDeflate {
    /// The extension token.
    public static let name: StaticString = "permessage-deflate"

    /// Picks the first `permessage-deflate` offer in a `Sec-WebSocket-Extensions` value that
    /// we can honour and returns the agreed config and the response header value; nil means
    /// "no extension" (send no `Sec-WebSocket-Extensions`).
    ///
    /// RFC 7692 §7.1: an offer is declined (the next one is tried) when it has an unknown or
    /// duplicated parameter, a value on a `*_no_context_takeover`, or a window outside 8...15.
    /// Choice: an offer with `server_max_window_bits=8` is declined too — zlib silently
    /// deflates raw streams with 9 bits when asked for 8, and §7.1.2.1 forbids answering a
    /// larger value than offered, so we cannot honour it. Other extensions are skipped.
    public static func negotiate(offer header: UnsafeRawBufferPointer, policy: DeflatePolicy) -> (DeflateConfig, responseHeaderValue: String)? {
        guard policy.enabled else { return nil }
        var offers = HeaderListScanner(header, separator: UInt8(ascii: ","))
        while let element = offers.next() {
            guard !element.isEmpty, let offer = Offer(header, element), let accepted = offer.accept(policy) else { continue }
            return accepted
        }
        return nil
    }

    /// One parsed offer: nil fields mean "parameter absent".
    struct Offer {
        var serverNoContextTakeover = false
        var clientNoContextTakeover = false
        var serverMaxWindowBits: Int?
        /// 0 when present without a value ("any window; you may pick").
        var clientMaxWindowBits: Int?

        /// Parses `bytes[element]`; nil when it is not permessage-deflate or is malformed.
        init?(_ bytes: UnsafeRawBufferPointer, _ element: Range<Int>) {
            var params = HeaderListScanner(bytes, range: element, separator: UInt8(ascii: ";"))
            guard let name = params.next(), HeaderListScanner.equalsIgnoringCase(bytes, name, PerMessageDeflate.name) else { return nil }
            while let param = params.next() {
                guard !param.isEmpty else { return nil }
                var nameRange = param
                var value: Range<Int>?
                if let eq = param.first(where: { bytes[$0] == UInt8(ascii: "=") }) {
                    nameRange = HeaderListScanner.trim(bytes, param.lowerBound..<eq)
                    value = HeaderListScanner.trim(bytes, (eq + 1)..<param.upperBound)
                }
                if HeaderListScanner.equalsIgnoringCase(bytes, nameRange, "server_no_context_takeover") {
                    guard value == nil, !serverNoContextTakeover else { return nil }
                    serverNoContextTakeover = true
                } else if HeaderListScanner.equalsIgnoringCase(bytes, nameRange, "client_no_context_takeover") {
                    guard value == nil, !clientNoContextTakeover else { return nil }
                    clientNoContextTakeover = true
                } else if HeaderListScanner.equalsIgnoringCase(bytes, nameRange, "server_max_window_bits") {
                    guard serverMaxWindowBits == nil, let value, let bits = Self.windowBits(bytes, value) else { return nil }
                    serverMaxWindowBits = bits
                } else if HeaderListScanner.equalsIgnoringCase(bytes, nameRange, "client_max_window_bits") {
                    guard clientMaxWindowBits == nil else { return nil }
                    if let value {
                        guard let bits = Self.windowBits(bytes, value) else { return nil }
                        clientMaxWindowBits = bits
                    } else {
                        clientMaxWindowBits = 0
                    }
                } else {
                    return nil  // RFC 7692 §7.1: unknown parameter → decline this offer
                }
            }
        }

        /// RFC 7692 §7.1.2: `1*DIGIT` in 8...15 without leading zeros, as a token or a quoted
        /// string (whose content must then match the same grammar after unescaping).
        static func windowBits(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> Int? {
            var lower = range.lowerBound
            var upper = range.upperBound
            if upper > lower && bytes[lower] == UInt8(ascii: "\"") {
                guard upper - lower >= 2, bytes[upper - 1] == UInt8(ascii: "\"") else { return nil }
                lower += 1
                upper -= 1
            }
            var value = 0
            var digits = 0
            var i = lower
            while i < upper {
                var b = bytes[i]
                if b == UInt8(ascii: "\\") && range.lowerBound < lower && i + 1 < upper {  // quoted-pair
                    i += 1
                    b = bytes[i]
                }
                guard b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9"), digits < 2 else { return nil }
                if digits == 1 && value == 0 { return nil }  // leading zero
                value = value * 10 + Int(b - UInt8(ascii: "0"))
                digits += 1
                i += 1
            }
            return digits > 0 && (8...15).contains(value) ? value : nil
        }

        /// The response to this offer under `policy`, or nil to decline it.
        func accept(_ policy: DeflatePolicy) -> (DeflateConfig, responseHeaderValue: String)? {
            if let bits = serverMaxWindowBits, bits < 9 { return nil }  // zlib cannot honour 8
            var config = DeflateConfig()
            var response = "permessage-deflate"
            config.serverNoContextTakeover = serverNoContextTakeover || policy.serverNoContextTakeover
            if config.serverNoContextTakeover { response += "; server_no_context_takeover" }
            config.clientNoContextTakeover = clientNoContextTakeover || policy.clientNoContextTakeover
            if config.clientNoContextTakeover { response += "; client_no_context_takeover" }
            // §7.1.2.1: answer with the same or a smaller value; without an offer we may still
            // compress with a smaller window silently (any decoder with 15 bits reads it).
            config.serverMaxWindowBits = min(serverMaxWindowBits ?? 15, policy.serverMaxWindowBits)
            if serverMaxWindowBits != nil { response += "; server_max_window_bits=\(config.serverMaxWindowBits)" }
            // §7.1.2.2: only limit the client when its offer carried client_max_window_bits.
            if let offered = clientMaxWindowBits {
                config.clientMaxWindowBits = min(offered == 0 ? 15 : offered, policy.clientMaxWindowBits)
                if config.clientMaxWindowBits < 15 { response += "; client_max_window_bits=\(config.clientMaxWindowBits)" }
            }
            return (config, response)
        }
    }
}
