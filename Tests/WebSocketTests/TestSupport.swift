@testable import WebSocket

/// A test-side record of a parse action, with payloads copied out so they outlive the call.
enum Event: Equatable, CustomStringConvertible {
    case message(WebSocketOpcode, [UInt8], compressed: Bool)
    case ping([UInt8])
    case pong([UInt8])
    case close(UInt16?, [UInt8])
    case fail(UInt16)

    var description: String {
        switch self {
        case .message(let op, let p, let c): return "message(\(op), \(p.count) bytes, compressed: \(c))"
        case .ping(let p): return "ping(\(p))"
        case .pong(let p): return "pong(\(p))"
        case .close(let c, let r): return "close(\(String(describing: c)), \(r))"
        case .fail(let c): return "fail(\(c))"
        }
    }
}

/// Drives a parser the way the I/O shell does: a receive buffer that keeps unconsumed bytes,
/// appended to by "reads" of the given sizes. Returns every event in order.
func drive(_ parser: inout WebSocketFrameParser, reads: [[UInt8]]) -> [Event] {
    var pending: [UInt8] = []
    var events: [Event] = []
    for chunk in reads {
        pending += chunk
        loop: while true {
            let (event, consumed, more): (Event?, Int, Bool) = pending.withUnsafeMutableBytes { raw in
                switch parser.parse(raw) {
                case .needMore(let n): return (nil, n, false)
                case .message(let op, let p, let c, let n): return (.message(op, Array(p), compressed: c), n, true)
                case .ping(let p, let n): return (.ping(Array(p)), n, true)
                case .pong(let p, let n): return (.pong(Array(p)), n, true)
                case .close(let code, let r, let n): return (.close(code, Array(r)), n, false)
                case .fail(let code, _): return (.fail(code), 0, false)
                }
            }
            precondition(consumed <= pending.count)
            pending.removeFirst(consumed)
            if let event { events.append(event) }
            if case .fail? = event { return events }
            if case .close? = event { return events }
            if !more { break loop }
        }
    }
    return events
}

/// Feeds `bytes` in reads split at the given offsets.
func drive(_ configuration: WebSocketFrameParser.Configuration, _ bytes: [UInt8], cuts: [Int]) -> [Event] {
    var parser = WebSocketFrameParser(configuration: configuration)
    var reads: [[UInt8]] = []
    var start = 0
    for cut in cuts.sorted() where cut > start && cut < bytes.count {
        reads.append(Array(bytes[start..<cut]))
        start = cut
    }
    reads.append(Array(bytes[start...]))
    return drive(&parser, reads: reads)
}

let server = WebSocketFrameParser.Configuration(role: .server)
let client = WebSocketFrameParser.Configuration(role: .client)

/// Builds a frame with our encoder (masking it when a key is given).
func frame(
    _ opcode: WebSocketOpcode, _ payload: [UInt8], fin: Bool = true, rsv1: Bool = false,
    mask: WebSocketMaskKey? = WebSocketMaskKey(0x37, 0xFA, 0x21, 0x3D)
) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: FrameEncoder.maxHeaderLength + payload.count)
    let n = out.withUnsafeMutableBytes { raw in
        let h = FrameEncoder.writeHeader(
            into: raw.baseAddress!, fin: fin, rsv1: rsv1, opcode: opcode, payloadLength: payload.count, maskKey: mask)
        let body = UnsafeMutableRawBufferPointer(rebasing: raw[h..<(h + payload.count)])
        payload.withUnsafeBytes { body.copyMemory(from: $0) }
        mask?.apply(to: body)
        return h + payload.count
    }
    return Array(out[..<n])
}

/// Raw bytes from a hex string ("81 05 48").
func hex(_ s: String) -> [UInt8] {
    s.split(separator: " ").flatMap { word -> [UInt8] in
        stride(from: 0, to: word.count, by: 2).map { i in
            let start = word.index(word.startIndex, offsetBy: i)
            return UInt8(word[start..<word.index(start, offsetBy: 2)], radix: 16)!
        }
    }
}
