import Reactor
#if canImport(Glibc)
import Glibc
#endif

/// An HTTP/1.1 keep-alive publisher: POSTs one event per request, pipelining up to
/// `window` requests, and counts the responses (2xx or not).
final class PublisherSocket: Socket {
    let host: String
    var outstanding = 0
    var ok = 0
    var failed = 0
    let window: Int
    /// Called with each response in order (2xx or not, and its body), when set.
    var onResponse: ((_ success: Bool, _ body: UnsafeRawBufferPointer) -> Void)?

    init(fd: Int32, loop: EventLoop, host: String, window: Int) {
        self.host = host
        self.window = window
        super.init(fd: fd, loop: loop)
    }

    var canSend: Bool { !isClosed && outstanding < window }

    /// Queues `POST path` with a JSON body.
    func post(path: String, body: String) {
        output.append(string: "POST \(path) HTTP/1.1\r\nHost: \(host)\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
        outstanding += 1
        markForFlush()
    }

    /// Counts complete responses.
    override func received(_ bytes: UnsafeMutableRawBufferPointer) -> Int {
        var at = 0
        while let (used, success, bodyStart) = ResponseFraming.next(UnsafeRawBufferPointer(rebasing: bytes[at...])) {
            if success { ok += 1 } else { failed += 1 }
            outstanding -= 1
            onResponse?(success, UnsafeRawBufferPointer(rebasing: bytes[(at + bodyStart)..<(at + used)]))
            at += used
        }
        return at
    }
}

/// HTTP/1.1 response framing for the load clients (status line, headers, Content-Length body).
enum ResponseFraming {
    /// The next complete response at the start of `bytes`: its length, whether it was 2xx and
    /// where its body starts; nil while incomplete.
    static func next(_ bytes: UnsafeRawBufferPointer) -> (used: Int, success: Bool, bodyStart: Int)? {
        guard let headEnd = ClientSocket.headEnd(bytes) else { return nil }
        let head = String(decoding: bytes[0..<headEnd], as: UTF8.self)
        var length = 0
        for line in head.split(separator: "\r\n") where line.lowercased().hasPrefix("content-length:") {
            length = Int(line.split(separator: ":")[1].trimmingCharacters()) ?? 0
        }
        guard bytes.count >= headEnd + length else { return nil }
        return (headEnd + length, head.hasPrefix("HTTP/1.1 2"), headEnd)
    }
}

extension Substring {
    func trimmingCharacters() -> Substring {
        var s = self
        while s.first == " " { s = s.dropFirst() }
        while s.last == " " || s.last == "\r" { s = s.dropLast() }
        return s
    }
}
