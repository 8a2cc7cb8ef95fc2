/// Frame opcodes (RFC 6455 §5.2, §11.8). 0x3–0x7 and 0xB–0xF are reserved and never
/// constructed: the parser fails the connection with 1002 when it sees them.
public enum WebSocketOpcode: UInt8, Sendable {
    /// 0x0: a continuation fragment of a data message.
    case continuation = 0x0
    /// 0x1: a text message (UTF-8).
    case text = 0x1
    /// 0x2: a binary message.
    case binary = 0x2
    /// 0x8: connection close.
    case close = 0x8
    /// 0x9: ping.
    case ping = 0x9
    /// 0xA: pong.
    case pong = 0xA

    /// RFC 6455 §5.5: opcodes with the high bit set are control frames.
    @inlinable
    public var isControl: Bool { rawValue & 0x8 != 0 }
}
