import Foundation
import Logging
import Testing
@testable import Server

/// A blocking loopback TCP client with a deadline on every call, for talking to a real server.
final class TestClient {
    let fd: Int32
    var buffer: [UInt8] = []

    init(port: Int, host: String = "127.0.0.1", receiveBuffer: Int32? = nil) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        if var size = receiveBuffer { setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, 4) } // before connect: sets the window
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, host, &addr.sin_addr)
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if rc != 0 { let e = errno; Glibc.close(fd); throw TestError("connect to \(port) failed: \(String(cString: strerror(e)))") }
    }

    deinit { Glibc.close(fd) }

    func send(_ text: String) throws { try send(Array(text.utf8)) }

    func send(_ bytes: [UInt8]) throws {
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { throw TestError("send failed: \(String(cString: strerror(errno)))") }
            off += n
        }
    }

    /// Reads more bytes, waiting at most `timeout` seconds. Returns false on EOF.
    @discardableResult
    func fill(timeout: Double) throws -> Bool {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let rc = poll(&p, 1, Int32(timeout * 1000))
        if rc == 0 { throw TestError("timed out after \(timeout) s waiting for data") }
        var chunk = [UInt8](repeating: 0, count: 65536)
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n <= 0 { return false }
        buffer.append(contentsOf: chunk[0..<n])
        return true
    }

    /// True when the server closed the connection within `timeout` (data before EOF is kept).
    func waitForClose(timeout: Double) throws -> Bool {
        let end = Date().addingTimeInterval(timeout)
        while Date() < end {
            if try !fill(timeout: max(0.01, end.timeIntervalSinceNow)) { return true }
        }
        return false
    }

    /// Reads one HTTP response (Content-Length framed; HEAD when `head`).
    func response(timeout: Double = 5, head: Bool = false) throws -> HTTPResponse {
        let end = Date().addingTimeInterval(timeout)
        while true {
            if let (r, used) = HTTPResponse.parse(buffer, head: head) {
                buffer.removeFirst(used)
                return r
            }
            let left = end.timeIntervalSinceNow
            if left <= 0 { throw TestError("no complete response within \(timeout) s; have \(buffer.count) bytes") }
            if try !fill(timeout: left) {
                if let (r, used) = HTTPResponse.parse(buffer, head: head) { buffer.removeFirst(used); return r }
                throw TestError("connection closed before a complete response; have: \(String(decoding: buffer, as: UTF8.self))")
            }
        }
    }
}

struct HTTPResponse {
    var status: Int
    var headers: [(String, String)]
    var body: [UInt8]
    var text: String { String(decoding: body, as: UTF8.self) }
    func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name.lowercased() }?.1 }
    var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] ?? [:] }

    static func parse(_ b: [UInt8], head: Bool) -> (HTTPResponse, Int)? {
        guard let end = find(b, [13, 10, 13, 10]) else { return nil }
        let lines = String(decoding: b[0..<end], as: UTF8.self).components(separatedBy: "\r\n")
        let parts = lines[0].split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, let status = Int(parts[1]) else { return nil }
        var headers: [(String, String)] = []
        for l in lines.dropFirst() {
            if let c = l.firstIndex(of: ":") {
                headers.append((String(l[..<c]), l[l.index(after: c)...].trimmingCharacters(in: .whitespaces)))
            }
        }
        var r = HTTPResponse(status: status, headers: headers, body: [])
        let start = end + 4
        if status == 100 || head { return (r, start) }
        let len = Int(r.header("Content-Length") ?? "0") ?? 0
        guard b.count >= start + len else { return nil }
        r.body = Array(b[start..<(start + len)])
        return (r, start + len)
    }

    static func find(_ b: [UInt8], _ pat: [UInt8]) -> Int? {
        guard b.count >= pat.count else { return nil }
        for i in 0...(b.count - pat.count) where b[i] == pat[0] {
            if Array(b[i..<(i + pat.count)]) == pat { return i }
        }
        return nil
    }
}

struct TestError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// A server the tests reach on 127.0.0.1:`port` (in this process, or a child process).
protocol ListeningServer {
    var port: Int { get }
}

extension ListeningServer {
    func get(_ path: String, timeout: Double = 5) throws -> HTTPResponse {
        let c = try TestClient(port: port)
        try c.send("GET \(path) HTTP/1.1\r\nHost: t\r\n\r\n")
        return try c.response(timeout: timeout)
    }
}

/// A server running in this process on its own thread, on a free port.
final class TestServer: ListeningServer, @unchecked Sendable {
    let server: RunwireServer
    let storage: String
    private let done = DispatchSemaphore(value: 0)
    var port: Int { server.port }

    init(_ settings: [String: String] = [:]) throws {
        storage = NSTemporaryDirectory() + "runwire-test-\(UUID().uuidString)"
        var env = ["PORT": "0", "STORAGE_DIR": storage]
        env.merge(settings) { $1 }
        let config = try Config.load(dotenv: nil, environment: env, flags: [:]).get()
        server = RunwireServer(config: config, logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        try server.start()
        let s = server, d = done
        Thread.detachNewThread { s.run(); d.signal() }
    }

    /// Stops the server and waits (bounded) for its loop to end.
    func stop() {
        server.stop()
        _ = done.wait(timeout: .now() + 10)
        try? FileManager.default.removeItem(atPath: storage)
    }
}

/// Polls `condition` until it holds or `timeout` passes (bounded waiting on observable state).
func eventually(timeout: Double = 5, _ condition: () throws -> Bool) rethrows -> Bool {
    let end = Date().addingTimeInterval(timeout)
    while Date() < end {
        if try condition() { return true }
        usleep(10_000)
    }
    return try condition()
}
