import CShimCrypto
import Reactor
import WebSocket
#if canImport(Glibc)
import Glibc
#endif

/// What a bench scenario does with its client WebSockets.
protocol ClientDelegate: AnyObject {
    func opened(_ c: ClientSocket)
    func message(_ c: ClientSocket, _ payload: UnsafeRawBufferPointer)
    func closed(_ c: ClientSocket, handshakeDone: Bool)
}

/// A client WebSocket on the bench's own reactor: connects, sends the handshake, then parses
/// server frames with the same parser the server uses (client role) and sends masked frames.
final class ClientSocket: Socket {
    unowned let delegate: ClientDelegate
    private var open = false
    private var parser = WebSocketFrameParser(configuration: .init(role: .client, maxMessageSize: 64 << 20))
    /// Free for the scenario (send time of the message in flight, for example).
    var stamp: Double = 0
    /// Free for the scenario (the run this socket watches, the next event number it expects).
    var runIndex = 0
    var expect = 0
    /// Free for the scenario (the socket's index in the scenario's own tables).
    var id = 0

    init(fd: Int32, loop: EventLoop, delegate: ClientDelegate, host: String, path: String) {
        self.delegate = delegate
        super.init(fd: fd, loop: loop)
        var key = [UInt8](repeating: 0, count: 16)
        _ = CShim_random_bytes(&key, 16)
        var b64 = [UInt8](repeating: 0, count: 32)
        let n = b64.withUnsafeMutableBytes { CShim_base64_encode(key, 16, $0.baseAddress!.assumingMemoryBound(to: CChar.self)) }
        let keyText = String(decoding: b64[0..<Int(n)], as: UTF8.self)
        output.append(string: "GET \(path) HTTP/1.1\r\nHost: \(host)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
                      "Sec-WebSocket-Key: \(keyText)\r\nSec-WebSocket-Version: 13\r\n\r\n")
    }

    /// Starts watching and queues the handshake (written once the connect completes).
    func begin() {
        start()
        markForFlush()
    }

    override func received(_ bytes: UnsafeMutableRawBufferPointer) -> Int {
        var offset = 0
        if !open {
            guard let end = Self.headEnd(UnsafeRawBufferPointer(bytes)) else { return 0 }
            guard bytes.count >= 12, bytes[9] == UInt8(ascii: "1"), bytes[10] == UInt8(ascii: "0"), bytes[11] == UInt8(ascii: "1") else {
                close()
                return bytes.count
            }
            open = true
            offset = end
            delegate.opened(self)
        }
        while !isClosed {
            switch parser.parse(UnsafeMutableRawBufferPointer(rebasing: bytes[offset...])) {
            case .needMore(let n): return offset + n
            case .message(_, let payload, _, let n):
                offset += n
                delegate.message(self, payload)
            case .ping(let p, let n):
                offset += n
                sendFrame(.pong, p)
            case .pong(_, let n): offset += n
            case .close, .fail:
                close()
                return bytes.count
            }
        }
        return bytes.count
    }

    /// Sends one masked frame (RFC 6455 §5.3: clients mask every frame).
    func sendFrame(_ opcode: WebSocketOpcode, _ payload: UnsafeRawBufferPointer) {
        let key = WebSocketMaskKey.random()
        let h = FrameEncoder.writeHeader(into: output.reserve(14), opcode: opcode, payloadLength: payload.count, maskKey: key)
        output.writeIndex += h
        let start = output.writeIndex
        output.append(payload)
        key.apply(to: UnsafeMutableRawBufferPointer(start: output.base! + start, count: payload.count))
        markForFlush()
    }

    override func didClose() { delegate.closed(self, handshakeDone: open) }

    static func headEnd(_ b: UnsafeRawBufferPointer) -> Int? {
        guard b.count >= 4 else { return nil }
        for i in 3..<b.count where b[i] == 10 && b[i - 1] == 13 && b[i - 2] == 10 && b[i - 3] == 13 { return i + 1 }
        return nil
    }
}

/// A `ws://host:port/path` URL with `{run}` templates.
struct WSURL {
    var host: String
    var port: Int
    var path: String

    init?(_ text: String) {
        guard text.hasPrefix("ws://") else { return nil }
        let rest = text.dropFirst(5)
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        let authority = rest[..<slash]
        path = slash == rest.endIndex ? "/" : String(rest[slash...])
        guard let colon = authority.lastIndex(of: ":"), let p = Int(authority[authority.index(after: colon)...]) else { return nil }
        host = String(authority[..<colon])
        port = p
    }

    func path(run: Int) -> String { path.replacingOccurrences(of: "{run}", with: "run-\(run)") }
}

extension String {
    func replacingOccurrences(of target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var out = ""
        var rest = Substring(self)
        while let r = rest.firstRange(of: target) {
            out += rest[..<r.lowerBound]
            out += replacement
            rest = rest[r.upperBound...]
        }
        return out + rest
    }
}

/// Resident memory of a process in KiB (VmRSS), from /proc.
func residentKiB(pid: Int32) -> Int? {
    guard let f = fopen("/proc/\(pid)/status", "r") else { return nil }
    defer { fclose(f) }
    var line = [UInt8](repeating: 0, count: 256)
    while line.withUnsafeMutableBytes({ fgets($0.baseAddress!.assumingMemoryBound(to: CChar.self), 256, f) }) != nil {
        let s = String(decoding: line.prefix { $0 != 0 }, as: UTF8.self)
        if s.hasPrefix("VmRSS:") { return Int(s.split(separator: " ").dropFirst().first ?? "") }
    }
    return nil
}

/// Seconds on the monotonic clock (CLOCK_MONOTONIC): for durations and deadlines, not the time of day.
func wallNow() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}
