import PubSub
import Reactor
import WebSocket

/// A WebSocket connection after the handshake (RFC 6455 §5–§7): frames are parsed in place
/// from the receive buffer, pings are answered, idle peers are pinged by the sweep timer and
/// dropped when they do not answer, and the close handshake is completed before the socket
/// closes. What a message means is up to `role`.
final class WebSocketConnection: Socket {
    /// What the connection is for.
    enum Role {
        /// Echo every message with its opcode (`/api/ws/echo`, for conformance tests).
        case echo
        /// Run events: the single-run socket and the multiplexed `/api/ws` (JSON ops).
        case events
    }

    let ctx: LoopContext
    let role: Role
    /// The loop's fan-out frame lists (held here: one hop less per delivery).
    let frames: FanOutFrames
    private var parser: WebSocketFrameParser
    /// Negotiated permessage-deflate parameters (nil: none).
    let deflate: DeflateConfig?
    private var inflater: PerMessageInflater?
    private var awaitingPong = false
    private(set) var closeSent = false
    /// Runs this socket watches.
    var subscriptions: [WebSocketSubscription] = []
    /// May publish (API key given at the handshake, or no API_KEYS configured).
    var isPublisher = false
    /// What only some sockets need (ops waiting for answers, a handshake token), made on first
    /// use: an idle subscriber does not carry it.
    final class Pending {
        /// Subscribe requests waiting for their run (Redis reads it first; counted against
        /// WS_MAX_SUBSCRIPTIONS).
        var subscriptions = 0
        /// The runs of publish ops whose answer (`published` or an error) the backend has not
        /// given yet, in the order sent.
        var publishes: [String] = []
        /// Set by shutdown while publishes are unanswered: close with 1001 once they are.
        var closeWhenAnswered = false
        /// The `?token=` of the handshake, used by subscribes that carry none.
        var handshakeToken: String?
    }
    private(set) var pendingState: Pending?
    /// `Pending`, made when first needed.
    var pending: Pending {
        if let p = pendingState { return p }
        let p = Pending()
        pendingState = p
        return p
    }
    /// Subscribe requests waiting for their run.
    var waitingSubscriptions: Int { pendingState?.subscriptions ?? 0 }
    /// Whether publish ops wait for their answers.
    var hasUnansweredPublishes: Bool { !(pendingState?.publishes.isEmpty ?? true) }
    /// The `?token=` of the handshake.
    var handshakeToken: String? { pendingState?.handshakeToken }

    init(fd: Int32, ctx: LoopContext, role: Role, deflate: DeflateConfig?) {
        self.ctx = ctx
        self.role = role
        self.deflate = deflate
        frames = ctx.resources.frames
        parser = WebSocketFrameParser(configuration: .init(
            role: .server, maxMessageSize: ctx.limits.wsMaxMessageBytes, permessageDeflate: deflate != nil))
        super.init(fd: fd, loop: ctx.loop)
        readPauseThreshold = ctx.limits.wsMaxMessageBytes + 65536
    }

    override func received(_ bytes: UnsafeMutableRawBufferPointer) -> Int {
        var offset = 0
        loop: while !isClosed {
            let action = parser.parse(UnsafeMutableRawBufferPointer(rebasing: bytes[offset...]))
            switch action {
            case .needMore(let n):
                offset += n
                break loop
            case .message(let opcode, let payload, let compressed, let n):
                offset += n
                if compressed {
                    switch inflate(payload, isText: opcode == .text) {
                    case .message(let plain): deliver(opcode, plain)
                    case .fail(let code, let reason): fail(code, reason); return bytes.count
                    }
                } else {
                    deliver(opcode, payload)
                }
            case .ping(let payload, let n):
                offset += n
                sendControl(.pong, payload)
            case .pong(_, let n):
                offset += n
            case .close(let code, _, let n):
                offset += n
                // RFC 6455 §5.5.1: answer a close with a close (echoing its status code), then close.
                if !closeSent { sendClose(code, reason: "") }
                finish()
                return bytes.count
            case .fail(let code, let reason):
                fail(code, reason)
                return bytes.count
            }
        }
        awaitingPong = false
        deadline = loop.now + ctx.limits.wsPingInterval
        if !parser.hasPartialMessage {
            parser.releaseBuffer() // an idle socket holds no message buffer
            if let inflater, inflater.noContextTakeover { inflater.release() }
        }
        return offset
    }

    private func inflate(_ payload: UnsafeRawBufferPointer, isText: Bool) -> InflateResult {
        if inflater == nil {
            inflater = PerMessageInflater(noContextTakeover: deflate?.clientNoContextTakeover ?? true,
                                          maxMessageSize: ctx.limits.wsMaxMessageBytes)
        }
        return inflater!.inflate(payload, isText: isText)
    }

    private func deliver(_ opcode: WebSocketOpcode, _ payload: UnsafeRawBufferPointer) {
        switch role {
        case .echo: send(opcode, payload)
        case .events: handleOp(opcode, payload)
        }
    }

    /// Queues one data message, compressed when permessage-deflate was agreed and it is large enough.
    func send(_ opcode: WebSocketOpcode, _ payload: UnsafeRawBufferPointer) {
        guard !closeSent else { return }
        prepareOutput()
        if let deflate, ctx.limits.deflatePolicy.shouldCompress(length: payload.count),
           let packed = ctx.resources.compressor(windowBits: deflate.serverMaxWindowBits).compress(payload) {
            // RFC 7692 §6.1: RSV1 on the (only) frame of a compressed message.
            let h = FrameEncoder.writeHeader(into: output.reserve(14), rsv1: true, opcode: opcode, payloadLength: packed.count)
            output.writeIndex += h
            output.append(packed)
        } else {
            let h = FrameEncoder.writeHeader(into: output.reserve(14), opcode: opcode, payloadLength: payload.count)
            output.writeIndex += h
            output.append(payload)
        }
        markForFlush()
    }

    private func sendControl(_ opcode: WebSocketOpcode, _ payload: UnsafeRawBufferPointer) {
        queueControlFrame { FrameEncoder.writeControlFrame(opcode: opcode, payload: payload, into: $0) }
    }

    /// Sends a close frame (once); the peer's answer or the deadline ends the connection.
    func sendClose(_ code: UInt16?, reason: StaticString) {
        let text = UnsafeRawBufferPointer(start: reason.utf8Start, count: reason.utf8CodeUnitCount)
        queueControlFrame { FrameEncoder.writeClose(code: code, reason: text, into: $0) }
        closeSent = true
    }

    /// Writes one control frame (at most 131 bytes) with `encode` into the output and queues it;
    /// nothing once a close was sent (RFC 6455 §5.5.1: no frames after a close).
    private func queueControlFrame(_ encode: (UnsafeMutableRawBufferPointer) -> Int?) {
        guard !closeSent else { return }
        prepareOutput()
        let room = UnsafeMutableRawBufferPointer(start: output.reserve(FrameEncoder.maxControlFrameLength),
                                                 count: FrameEncoder.maxControlFrameLength)
        if let n = encode(room) { output.writeIndex += n }
        markForFlush()
    }

    /// The peer broke the protocol: close with `code` (RFC 6455 §7.1.7).
    private func fail(_ code: UInt16, _ reason: StaticString) {
        ctx.ws.protocolErrors.add()
        sendClose(code, reason: reason)
        deadline = loop.now + 5
        finish()
    }

    /// Server-initiated close (shutdown: 1001 going away; slow consumer: 1013). The peer gets
    /// `grace` seconds to read what is queued before the connection is dropped.
    func close(with code: UInt16, reason: StaticString, grace: Double = 5) {
        pendingState?.closeWhenAnswered = false
        unsubscribeAll()
        sendClose(code, reason: reason)
        deadline = loop.now + grace
        finish()
    }

    override func timedOut() {
        if closeSent || awaitingPong { close(); return } // dead peer, or no close answer
        awaitingPong = true
        sendControl(.ping, UnsafeRawBufferPointer(start: nil, count: 0))
        deadline = loop.now + ctx.limits.wsPingInterval
    }

    override func drained() {
        if !subscriptions.isEmpty { continueReplays() }
    }

    /// Shutdown: close with 1001 (going away; clients reconnect with `since`) — once the
    /// answers to publishes already sent are written, so a publisher is not left guessing.
    func shutDown() {
        if hasUnansweredPublishes { pending.closeWhenAnswered = true; return }
        close(with: CloseCode.goingAway, reason: "server shutting down")
    }

    override func didClose() {
        unsubscribeAll()
        ctx.ws.opened(-1)
        parser.releaseBuffer()
        inflater?.release()
    }
}
