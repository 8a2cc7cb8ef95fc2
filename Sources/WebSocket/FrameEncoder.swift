/// Writes frame headers and small control frames into caller memory (RFC 6455 §5.2).
///
/// Nothing here allocates: the I/O shell reserves `maxHeaderLength` bytes in front of a
/// payload (or a 131-byte slot for a control frame) and asks for the bytes. Lengths always
/// use the minimal encoding (RFC 6455 §5.2: "the minimal number of bytes MUST be used").
public enum FrameEncoder {
    /// The largest header: 2 + 8 (64-bit length) + 4 (mask key).
    public static let maxHeaderLength = 14
    /// The largest control frame: 2 + 4 (mask key) + 125 (RFC 6455 §5.5).
    public static let maxControlFrameLength = 131
    /// RFC 6455 §5.5: control frame payloads are at most 125 bytes.
    public static let maxControlPayloadLength = 125

    /// How many header bytes a frame with this payload length needs.
    @inlinable
    public static func headerLength(payloadLength: Int, masked: Bool) -> Int {
        let base = payloadLength < 126 ? 2 : (payloadLength <= 0xFFFF ? 4 : 10)
        return masked ? base &+ 4 : base
    }

    /// Writes a frame header at `out` (which must have room for `headerLength(...)` bytes,
    /// at most 14) and returns its length. A mask key is written but the payload is not
    /// masked here: see `WebSocketMaskKey.apply(to:phase:)`.
    @inlinable
    @discardableResult
    public static func writeHeader(
        into out: UnsafeMutableRawPointer, fin: Bool = true, rsv1: Bool = false,
        opcode: WebSocketOpcode, payloadLength: Int, maskKey: WebSocketMaskKey? = nil
    ) -> Int {
        precondition(payloadLength >= 0, "negative payload length")
        var b0 = opcode.rawValue
        if fin { b0 |= 0x80 }
        if rsv1 { b0 |= 0x40 }  // RFC 7692 §6: RSV1 marks a compressed message's first frame
        out.storeBytes(of: b0, as: UInt8.self)
        let maskBit: UInt8 = maskKey == nil ? 0 : 0x80
        var length: Int
        if payloadLength < 126 {
            out.storeBytes(of: maskBit | UInt8(truncatingIfNeeded: payloadLength), toByteOffset: 1, as: UInt8.self)
            length = 2
        } else if payloadLength <= 0xFFFF {
            out.storeBytes(of: maskBit | 126, toByteOffset: 1, as: UInt8.self)
            out.storeBytes(of: UInt16(truncatingIfNeeded: payloadLength).bigEndian, toByteOffset: 2, as: UInt16.self)
            length = 4
        } else {
            out.storeBytes(of: maskBit | 127, toByteOffset: 1, as: UInt8.self)
            out.storeBytes(of: UInt64(payloadLength).bigEndian, toByteOffset: 2, as: UInt64.self)
            length = 10
        }
        if let key = maskKey {
            out.storeBytes(of: key.nativeValue, toByteOffset: length, as: UInt32.self)
            length &+= 4
        }
        return length
    }

    /// Writes a whole control frame (header, payload, masked when `maskKey` is given) and
    /// returns its length, or nil when `out` is too small. The payload must be ≤ 125 bytes.
    public static func writeControlFrame(
        opcode: WebSocketOpcode, payload: UnsafeRawBufferPointer,
        maskKey: WebSocketMaskKey? = nil, into out: UnsafeMutableRawBufferPointer
    ) -> Int? {
        precondition(opcode.isControl, "not a control opcode")
        precondition(payload.count <= maxControlPayloadLength, "RFC 6455 §5.5: control payload > 125 bytes")
        let header = headerLength(payloadLength: payload.count, masked: maskKey != nil)
        guard let base = out.baseAddress, out.count >= header &+ payload.count else { return nil }
        writeHeader(into: base, opcode: opcode, payloadLength: payload.count, maskKey: maskKey)
        let body = UnsafeMutableRawBufferPointer(start: base + header, count: payload.count)
        if payload.count > 0 { body.copyMemory(from: payload) }
        maskKey?.apply(to: body)
        return header &+ payload.count
    }

    /// A pong echoing a ping's payload (RFC 6455 §5.5.3: "Application data" of the ping).
    public static func writePong(
        echoing ping: UnsafeRawBufferPointer, maskKey: WebSocketMaskKey? = nil,
        into out: UnsafeMutableRawBufferPointer
    ) -> Int? {
        writeControlFrame(opcode: .pong, payload: ping, maskKey: maskKey, into: out)
    }

    /// A close frame with a status code and a UTF-8 reason (RFC 6455 §5.5.1). The reason is
    /// cut to 123 bytes at a UTF-8 character boundary so the payload stays ≤ 125 bytes.
    /// `code == nil` writes an empty close payload (the reason is then ignored).
    public static func writeClose(
        code: UInt16?, reason: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0),
        maskKey: WebSocketMaskKey? = nil, into out: UnsafeMutableRawBufferPointer
    ) -> Int? {
        guard let code else {
            return writeControlFrame(opcode: .close, payload: UnsafeRawBufferPointer(start: nil, count: 0), maskKey: maskKey, into: out)
        }
        var reasonLength = min(reason.count, maxControlPayloadLength &- 2)
        // Never split a UTF-8 sequence: back off over continuation bytes (top two bits 10).
        if reasonLength < reason.count {
            while reasonLength > 0 && reason[reasonLength] & 0xC0 == 0x80 { reasonLength &-= 1 }
        }
        return withUnsafeTemporaryAllocation(byteCount: maxControlPayloadLength, alignment: 1) { payload in
            payload.storeBytes(of: code.bigEndian, toByteOffset: 0, as: UInt16.self)
            if reasonLength > 0 {
                UnsafeMutableRawBufferPointer(rebasing: payload[2..<(2 &+ reasonLength)])
                    .copyMemory(from: UnsafeRawBufferPointer(rebasing: reason[0..<reasonLength]))
            }
            let body = UnsafeRawBufferPointer(rebasing: payload[0..<(2 &+ reasonLength)])
            return writeControlFrame(opcode: .close, payload: body, maskKey: maskKey, into: out)
        }
    }
}
