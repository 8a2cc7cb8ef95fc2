/// WebSocket close status codes (RFC 6455 §7.4.1) and the rule for which codes a peer may send.
///
/// Codes are plain `UInt16` so they travel through action enums and frame writers without
/// conversion; this enum is only a namespace.
public enum CloseCode {
    /// 1000: the purpose of the connection was fulfilled.
    public static let normalClosure: UInt16 = 1000
    /// 1001: the endpoint is going away (server shutdown, page navigation).
    public static let goingAway: UInt16 = 1001
    /// 1002: the peer broke the protocol.
    public static let protocolError: UInt16 = 1002
    /// 1003: a data type the endpoint cannot accept.
    public static let unsupportedData: UInt16 = 1003
    /// 1005: reserved, never sent: "no status code was present" (RFC 6455 §7.4.1).
    public static let noStatusReceived: UInt16 = 1005
    /// 1006: reserved, never sent: the connection closed without a close frame.
    public static let abnormalClosure: UInt16 = 1006
    /// 1007: a message's payload was inconsistent with its type (invalid UTF-8 in text).
    public static let invalidPayload: UInt16 = 1007
    /// 1008: a generic policy violation.
    public static let policyViolation: UInt16 = 1008
    /// 1009: a message too big to process (also used for decompression bombs).
    public static let messageTooBig: UInt16 = 1009
    /// 1010: the client expected an extension the server did not negotiate.
    public static let mandatoryExtension: UInt16 = 1010
    /// 1011: the server met an unexpected condition.
    public static let internalError: UInt16 = 1011
    /// 1012: the service is restarting (IANA registry).
    public static let serviceRestart: UInt16 = 1012
    /// 1013: try again later (IANA registry).
    public static let tryAgainLater: UInt16 = 1013
    /// 1014: bad gateway (IANA registry).
    public static let badGateway: UInt16 = 1014

    /// Whether `code` may appear in a close frame received from the peer.
    ///
    /// RFC 6455 §7.4.1/§7.4.2: 1000–1003 and 1007–1011 are defined; 1012–1014 are registered
    /// with IANA since; 3000–4999 belong to libraries and applications. 1004 is reserved,
    /// 1005/1006/1015 must never be sent, and everything below 1000 or in 1016–2999 is
    /// invalid: the receiver fails the connection with 1002.
    @inlinable
    public static func isValidReceived(_ code: UInt16) -> Bool {
        switch code {
        case 1000...1003, 1007...1014, 3000...4999: return true
        default: return false
        }
    }
}
