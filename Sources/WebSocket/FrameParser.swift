/// The WebSocket frame parser (RFC 6455 §5): a state machine with no I/O.
///
/// The shell owns the receive buffer. It calls `parse(_:)` with all unconsumed bytes, drops
/// `action.consumed` bytes from the front, acts on the action, and calls again until it gets
/// `.needMore` — then it reads more and appends. A complete unfragmented frame already in the
/// buffer is unmasked in place and returned as a pointer into the buffer (zero copy). A data
/// frame whose payload is not all there yet is consumed as far as it goes into a per-parser
/// message buffer (so the shell never holds more than one incomplete header or control frame,
/// at most `FrameEncoder.maxControlFrameLength` bytes), as are fragmented messages.
///
/// Server role: every client frame must be masked (RFC 6455 §5.1). Client role (load
/// clients): server frames must not be masked. Text is UTF-8 validated as it streams in.
///
/// Steady state allocates nothing: the message buffer grows to the largest message seen and
/// is reused; `releaseBuffer()` frees it while the socket is idle.
public struct WebSocketFrameParser: ~Copyable {
    /// Which end of the connection this parser runs on.
    public enum Role: Sendable {
        /// Parses client-to-server frames: they must be masked.
        case server
        /// Parses server-to-client frames: they must not be masked.
        case client
    }

    /// Limits and negotiated options, fixed for the connection's lifetime.
    public struct Configuration: Sendable {
        /// Which side's frames are being parsed.
        public var role: Role
        /// The largest message (sum of its fragments' payloads, compressed size when
        /// compressed) accepted; larger fails with 1009 as soon as a header announces it.
        public var maxMessageSize: Int
        /// Whether permessage-deflate was negotiated (RSV1 allowed, RFC 7692 §6).
        public var permessageDeflate: Bool

        /// Creates a configuration; 16 MiB messages, no compression by default.
        public init(role: Role = .server, maxMessageSize: Int = 16 << 20, permessageDeflate: Bool = false) {
            self.role = role
            self.maxMessageSize = maxMessageSize
            self.permessageDeflate = permessageDeflate
        }
    }

    enum Terminal {
        case closed
        case failed(UInt16, StaticString)
    }

    /// The configuration given at creation.
    public let configuration: Configuration

    // The data message in progress (RFC 6455 §5.4), nil between messages.
    var messageOpcode: WebSocketOpcode?
    var messageCompressed = false
    var messageSize = 0
    var validateText = false
    var utf8 = UTF8Validator()

    // A data frame whose payload is still arriving (frameRemaining > 0).
    var frameRemaining = 0
    var frameFin = false
    var frameMask: WebSocketMaskKey?
    var framePhase = 0

    var assembly = MessageBuffer()
    /// The last `.message` pointed into `assembly`: empty it on the next call, not before.
    var clearAssemblyOnNextCall = false
    var terminal: Terminal?

    /// A parser for one connection.
    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    /// True while part of a message or frame has been consumed but not yet delivered.
    public var hasPartialMessage: Bool { messageOpcode != nil || frameRemaining > 0 }

    /// Bytes currently reserved by the message buffer (0 when released).
    public var bufferCapacity: Int { assembly.capacity }

    /// Frees the message buffer if no partial message lives in it (call when the socket goes
    /// idle). Invalidates any payload pointer into it. Returns whether memory was freed.
    @discardableResult
    public mutating func releaseBuffer() -> Bool {
        guard !hasPartialMessage, assembly.capacity > 0 else { return false }
        assembly.release()
        clearAssemblyOnNextCall = false
        return true
    }

    /// Parses as far as the next action. See the type's documentation for the calling loop.
    public mutating func parse(_ buffer: UnsafeMutableRawBufferPointer) -> WebSocketParseAction {
        switch terminal {
        case .failed(let code, let reason)?: return .fail(code: code, reason: reason)
        case .closed?: return .needMore(consumed: buffer.count)  // RFC 6455 §5.5.1: nothing after close
        case nil: break
        }
        if clearAssemblyOnNextCall {
            assembly.removeAll()
            clearAssemblyOnNextCall = false
        }
        guard let base = buffer.baseAddress else { return .needMore(consumed: 0) }
        let end = buffer.count
        var offset = 0
        while true {
            if frameRemaining > 0 {
                // A data frame's payload arriving in pieces: unmask, validate, append.
                let n = min(frameRemaining, end &- offset)
                if n == 0 { return .needMore(consumed: offset) }
                let chunk = UnsafeMutableRawBufferPointer(start: base + offset, count: n)
                if let failure = absorb(chunk) { return failure }
                offset &+= n
                frameRemaining &-= n
                if frameRemaining > 0 { return .needMore(consumed: offset) }
                if frameFin { return finishMessage(payload: nil, consumed: offset) }
                continue
            }
            let header: FrameHeader
            switch decodeHeader(base + offset, available: end &- offset) {
            case .incomplete: return .needMore(consumed: offset)
            case .fail(let code, let reason): return fail(code, reason)
            case .frame(let h): header = h
            }
            let payloadStart = offset &+ header.headerLength
            let available = end &- payloadStart
            if header.opcode.isControl {
                // Control frames (≤ 125 bytes) are only taken whole: the shell keeps the bytes.
                if available < header.length { return .needMore(consumed: offset) }
                let payload = UnsafeMutableRawBufferPointer(start: base + payloadStart, count: header.length)
                header.mask?.apply(to: payload)
                return control(header.opcode, UnsafeRawBufferPointer(payload), consumed: payloadStart &+ header.length)
            }
            if header.opcode != .continuation {
                // RFC 6455 §5.4: a new data message; RFC 7692 §6.1: RSV1 marks it compressed.
                messageOpcode = header.opcode
                messageCompressed = header.rsv1
                messageSize = 0
                validateText = header.opcode == .text && !header.rsv1
                utf8.reset()
            }
            messageSize &+= header.length
            if header.fin && header.opcode != .continuation && available >= header.length {
                // Zero copy: the whole unfragmented message is in the caller's buffer.
                let payload = UnsafeMutableRawBufferPointer(start: base + payloadStart, count: header.length)
                if let failure = unmaskAndValidate(payload, mask: header.mask, phase: 0) { return failure }
                return finishMessage(payload: UnsafeRawBufferPointer(payload), consumed: payloadStart &+ header.length)
            }
            offset = payloadStart
            frameRemaining = header.length
            frameFin = header.fin
            frameMask = header.mask
            framePhase = 0
            if header.length == 0 && header.fin { return finishMessage(payload: nil, consumed: offset) }
        }
    }

    /// Unmasks and validates a chunk of the current frame, then appends it to the message.
    mutating func absorb(_ chunk: UnsafeMutableRawBufferPointer) -> WebSocketParseAction? {
        if let failure = unmaskAndValidate(chunk, mask: frameMask, phase: framePhase) { return failure }
        framePhase = (framePhase &+ chunk.count) & 3
        assembly.append(UnsafeRawBufferPointer(chunk))
        return nil
    }

    /// RFC 6455 §5.3 unmasking, then §8.1 streaming UTF-8 validation of text: fail fast.
    mutating func unmaskAndValidate(
        _ chunk: UnsafeMutableRawBufferPointer, mask: WebSocketMaskKey?, phase: Int
    ) -> WebSocketParseAction? {
        mask?.apply(to: chunk, phase: phase)
        if validateText && !utf8.feed(UnsafeRawBufferPointer(chunk)) {
            return fail(CloseCode.invalidPayload, "invalid UTF-8 in text message")
        }
        return nil
    }

    /// Ends the message: `payload` nil means it was assembled in the message buffer.
    mutating func finishMessage(payload: UnsafeRawBufferPointer?, consumed: Int) -> WebSocketParseAction {
        if validateText && !utf8.isComplete {
            return fail(CloseCode.invalidPayload, "text message ends inside a UTF-8 sequence")
        }
        let opcode = messageOpcode ?? .binary
        messageOpcode = nil
        let bytes: UnsafeRawBufferPointer
        if let payload {
            bytes = payload
        } else {
            bytes = assembly.bytes
            clearAssemblyOnNextCall = true
        }
        return .message(opcode: opcode, payload: bytes, compressed: messageCompressed, consumed: consumed)
    }

    /// Records a failure so every later call repeats it.
    mutating func fail(_ code: UInt16, _ reason: StaticString) -> WebSocketParseAction {
        terminal = .failed(code, reason)
        return .fail(code: code, reason: reason)
    }
}
