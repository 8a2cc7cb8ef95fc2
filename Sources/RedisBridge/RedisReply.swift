import CShimRedis

/// A Redis reply, copied out of hiredis's reply object (which is freed after the callback).
public indirect enum RedisReply: Equatable, Sendable {
    case status(String)
    case error(String)
    case integer(Int64)
    case bulk([UInt8])
    case null
    case array([RedisReply])
    /// The connection went away before the reply came (hiredis calls back with no reply).
    case disconnected

    /// The bulk or status value as text.
    public var string: String? {
        switch self {
        case .bulk(let b): return String(decoding: b, as: UTF8.self)
        case .status(let s): return s
        default: return nil
        }
    }

    init(_ reply: UnsafeRawPointer?) {
        guard let reply else { self = .disconnected; return }
        func bytes() -> [UInt8] {
            var n = 0
            guard let p = CShim_reply_str(reply, &n) else { return [] }
            return Array(UnsafeRawBufferPointer(start: p, count: n))
        }
        switch Int(CShim_reply_type(reply)) {
        case Int(CShim_REPLY_STRING): self = .bulk(bytes())
        case Int(CShim_REPLY_STATUS): self = .status(String(decoding: bytes(), as: UTF8.self))
        case Int(CShim_REPLY_ERROR): self = .error(String(decoding: bytes(), as: UTF8.self))
        case Int(CShim_REPLY_INTEGER): self = .integer(Int64(CShim_reply_integer(reply)))
        case Int(CShim_REPLY_ARRAY):
            self = .array((0..<CShim_reply_elements(reply)).map { RedisReply(CShim_reply_element(reply, $0)) })
        default: self = .null
        }
    }
}
