import HTTP1
import Reactor
import WebSocket

/// The opening handshake (RFC 6455 §4.2): checks an Upgrade request and, when it is
/// acceptable, writes the 101 response. A bad handshake gets a clear HTTP error and the
/// connection is closed: a socket is never left half-open.
enum WebSocketUpgrade {
    struct Rejection: Error {
        let status: Int
        let code: String
        let message: String
        var headers = ""
    }

    /// What the handshake agreed on.
    struct Agreement {
        var deflate: DeflateConfig?
    }

    /// Validates the request whose head is parsed in `buf` and appends the 101 response to
    /// `out`; throws a `Rejection` describing what was wrong.
    static func accept(_ head: RequestHead, _ buf: UnsafeRawBufferPointer, slots: UnsafeBufferPointer<HTTPHeaderSlot>,
                       limits: Limits, into out: inout ByteBuffer) throws(Rejection) -> Agreement {
        let upgradeToWebSocket = head.upgrade && head.hasToken("websocket", inHeader: "upgrade", in: buf, slots: slots)
        guard upgradeToWebSocket else {
            throw Rejection(status: 426, code: "upgrade_required",
                            message: "this endpoint speaks WebSocket: send Connection: Upgrade and Upgrade: websocket",
                            headers: "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n")
        }
        guard head.method == .get, head.versionMinor == 1 else {
            throw Rejection(status: 400, code: "bad_handshake", message: "a WebSocket handshake must be an HTTP/1.1 GET")
        }
        guard head.contentLength <= 0, !head.chunked else {
            throw Rejection(status: 400, code: "bad_handshake", message: "a WebSocket handshake must not carry a body")
        }
        // RFC 6455 §4.2.2: unsupported version → 426 with the versions we speak.
        guard let version = head.header("sec-websocket-version", in: buf, slots: slots),
              WebSocketHandshake.isSupportedVersion(version) else {
            throw Rejection(status: 426, code: "unsupported_websocket_version",
                            message: "Sec-WebSocket-Version must be 13", headers: "Sec-WebSocket-Version: 13\r\n")
        }
        guard let key = head.header("sec-websocket-key", in: buf, slots: slots), WebSocketHandshake.validateKey(key) else {
            throw Rejection(status: 400, code: "bad_websocket_key",
                            message: "Sec-WebSocket-Key must be 16 random bytes in base64")
        }
        if !limits.allowedOrigins.isEmpty {
            let origin = head.header("origin", in: buf, slots: slots).map { String(decoding: $0, as: UTF8.self) } ?? ""
            guard limits.allowedOrigins.contains(origin) else {
                throw Rejection(status: 403, code: "origin_not_allowed",
                                message: "Origin '\(origin.prefix(200))' is not in ALLOWED_ORIGINS")
            }
        }
        var agreement = Agreement()
        var extensionHeader: String?
        if limits.deflatePolicy.enabled, let offer = head.header("sec-websocket-extensions", in: buf, slots: slots),
           let (config, response) = PerMessageDeflate.negotiate(offer: offer, policy: limits.deflatePolicy) {
            agreement.deflate = config
            extensionHeader = response
        }
        var subprotocol: String?
        if let offered = head.header("sec-websocket-protocol", in: buf, slots: slots) {
            subprotocol = WebSocketHandshake.selectSubprotocol(offered: offered, supported: ["runwire.v1"])
        }
        let accept = WebSocketHandshake.acceptKey(forKey: key)
        out.append("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ")
        accept.withUnsafeBytes { out.append($0) }
        if let extensionHeader { out.append("\r\nSec-WebSocket-Extensions: "); out.append(string: extensionHeader) }
        if let subprotocol { out.append("\r\nSec-WebSocket-Protocol: "); out.append(string: subprotocol) }
        out.append("\r\n\r\n")
        return agreement
    }
}
