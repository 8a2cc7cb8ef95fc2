/// A decoded frame header (RFC 6455 §5.2).
struct FrameHeader {
    var fin: Bool
    var rsv1: Bool
    var opcode: WebSocketOpcode
    var length: Int
    var mask: WebSocketMaskKey?
    var headerLength: Int
}

enum HeaderOutcome {
    case incomplete
    case fail(UInt16, StaticString)
    case frame(FrameHeader)
}

extension WebSocketFrameParser {
    /// Decodes and checks the header at `p`. Every rule that the first two bytes decide is
    /// checked before waiting for the extended length, so a bad frame fails immediately.
    func decodeHeader(_ p: UnsafeMutableRawPointer, available: Int) -> HeaderOutcome {
        if available < 2 { return .incomplete }
        let b0 = p.load(as: UInt8.self)
        let b1 = p.load(fromByteOffset: 1, as: UInt8.self)
        let fin = b0 & 0x80 != 0
        let rsv1 = b0 & 0x40 != 0
        // RFC 6455 §5.2: RSV2/RSV3 must be 0 (no extension we negotiate defines them).
        if b0 & 0x30 != 0 { return .fail(CloseCode.protocolError, "RSV2/RSV3 set") }
        // RFC 6455 §5.2: opcodes 0x3–0x7 and 0xB–0xF are reserved.
        guard let opcode = WebSocketOpcode(rawValue: b0 & 0x0F) else {
            return .fail(CloseCode.protocolError, "reserved opcode")
        }
        if rsv1 {
            // RFC 7692 §6: RSV1 only with permessage-deflate, only on a message's first frame.
            if !configuration.permessageDeflate { return .fail(CloseCode.protocolError, "RSV1 set without permessage-deflate") }
            if opcode.isControl { return .fail(CloseCode.protocolError, "RSV1 set on a control frame") }
            if opcode == .continuation { return .fail(CloseCode.protocolError, "RSV1 set on a continuation frame") }
        }
        let masked = b1 & 0x80 != 0
        // RFC 6455 §5.1: clients must mask every frame, servers must mask none.
        switch configuration.role {
        case .server where !masked: return .fail(CloseCode.protocolError, "unmasked client frame")
        case .client where masked: return .fail(CloseCode.protocolError, "masked server frame")
        default: break
        }
        let length7 = Int(b1 & 0x7F)
        if opcode.isControl {
            // RFC 6455 §5.5: control frames are never fragmented and carry ≤ 125 bytes.
            if !fin { return .fail(CloseCode.protocolError, "fragmented control frame") }
            if length7 > 125 { return .fail(CloseCode.protocolError, "control frame payload > 125 bytes") }
            // RFC 6455 §5.5.1: a close body is empty or starts with a 2-byte code.
            if opcode == .close && length7 == 1 { return .fail(CloseCode.protocolError, "1-byte close payload") }
        } else if opcode == .continuation {
            // RFC 6455 §5.4: a continuation needs a message in progress.
            if messageOpcode == nil { return .fail(CloseCode.protocolError, "continuation without a message") }
        } else if messageOpcode != nil {
            // RFC 6455 §5.4: fragments of one message are not interleaved with another.
            return .fail(CloseCode.protocolError, "new data frame inside a fragmented message")
        }
        var headerLength = 2
        var length = length7
        if length7 == 126 {
            if available < 4 { return .incomplete }
            length = Int(UInt16(bigEndian: p.loadUnaligned(fromByteOffset: 2, as: UInt16.self)))
            headerLength = 4
        } else if length7 == 127 {
            if available < 10 { return .incomplete }
            let wide = UInt64(bigEndian: p.loadUnaligned(fromByteOffset: 2, as: UInt64.self))
            // RFC 6455 §5.2: "the most significant bit MUST be 0".
            if wide >> 63 != 0 { return .fail(CloseCode.protocolError, "64-bit length with the high bit set") }
            if wide > UInt64(Int.max) { return .fail(CloseCode.messageTooBig, "frame too large") }
            length = Int(wide)
            headerLength = 10
        }
        // Non-minimal lengths are accepted: RFC 6455 §5.2 binds the sender, and Autobahn agrees.
        if !opcode.isControl {
            let used = opcode == .continuation ? messageSize : 0
            if length > configuration.maxMessageSize &- used {
                return .fail(CloseCode.messageTooBig, "message exceeds the size limit")
            }
        }
        var mask: WebSocketMaskKey?
        if masked {
            if available < headerLength &+ 4 { return .incomplete }
            mask = WebSocketMaskKey(nativeValue: p.loadUnaligned(fromByteOffset: headerLength, as: UInt32.self))
            headerLength &+= 4
        }
        return .frame(FrameHeader(fin: fin, rsv1: rsv1, opcode: opcode, length: length, mask: mask, headerLength: headerLength))
    }

    /// Delivers a whole, unmasked control frame (RFC 6455 §5.5).
    mutating func control(_ opcode: WebSocketOpcode, _ payload: UnsafeRawBufferPointer, consumed: Int) -> WebSocketParseAction {
        switch opcode {
        case .ping: return .ping(payload: payload, consumed: consumed)
        case .pong: return .pong(payload: payload, consumed: consumed)
        default: break
        }
        guard payload.count >= 2 else {
            terminal = .closed
            return .close(code: nil, reason: payload, consumed: consumed)
        }
        let code = UInt16(payload[0]) << 8 | UInt16(payload[1])
        // RFC 6455 §7.4: codes a peer may not send fail the connection with 1002.
        if !CloseCode.isValidReceived(code) { return fail(CloseCode.protocolError, "invalid close code") }
        let reason = UnsafeRawBufferPointer(rebasing: payload[2...])
        // RFC 6455 §5.5.1: the close reason is UTF-8.
        if !UTF8Validator.validate(reason) { return fail(CloseCode.invalidPayload, "close reason is not UTF-8") }
        terminal = .closed
        return .close(code: code, reason: reason, consumed: consumed)
    }
}
