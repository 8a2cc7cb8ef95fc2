import CShimCrypto
import CShimZlib
import Foundation
import Testing
@testable import Artifacts
@testable import Server

/// A streamed HTTP exchange for artifact tests: sends large bodies in pieces and reads large
/// answers without keeping a growing buffer (bodies are hashed or collected as they arrive).
struct Exchange {
    var status = 0
    var headers: [(String, String)] = []
    var body: [UInt8] = []
    func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name.lowercased() }?.1 }
    var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] ?? [:] }
    var jsonArray: [[String: Any]] { (try? JSONSerialization.jsonObject(with: Data(body))) as? [[String: Any]] ?? [] }
    var text: String { String(decoding: body, as: UTF8.self) }
    var errorCode: String? { (json["error"] as? [String: Any])?["code"] as? String }
    /// The `id` of an upload's answer; throws with the answer when there is none.
    func id() throws -> String {
        guard let id = json["id"] as? String else { throw TestError("no artifact id in \(status) \(text.prefix(300))") }
        return id
    }
}

extension TestClient {
    /// Reads one response (Content-Length framed, or no body for HEAD/204/304), bounded in time.
    func exchange(timeout: Double = 30, head: Bool = false) throws -> Exchange {
        let end = Date().addingTimeInterval(timeout)
        func more() throws {
            let left = end.timeIntervalSinceNow
            if left <= 0 { throw TestError("no complete response within \(timeout) s; have \(buffer.count) bytes") }
            let got: Bool
            do { got = try fill(timeout: left) } catch { throw TestError("\(error); have \(buffer.count) bytes of the response") }
            if !got { throw TestError("connection closed mid-response; have \(String(decoding: buffer.prefix(300), as: UTF8.self))") }
        }
        var headEnd: Int?
        while headEnd == nil {
            if buffer.count >= 4 {
                for i in 0...(buffer.count - 4) where buffer[i] == 13 && buffer[i + 1] == 10 && buffer[i + 2] == 13 && buffer[i + 3] == 10 { headEnd = i; break }
            }
            if headEnd == nil { try more() }
        }
        var x = Exchange()
        let lines = String(decoding: buffer[0..<headEnd!], as: UTF8.self).components(separatedBy: "\r\n")
        x.status = Int(lines[0].split(separator: " ")[1]) ?? 0
        for l in lines.dropFirst() {
            if let c = l.firstIndex(of: ":") { x.headers.append((String(l[..<c]), l[l.index(after: c)...].trimmingCharacters(in: .whitespaces))) }
        }
        buffer.removeFirst(headEnd! + 4)
        if x.status == 100 { return try exchange(timeout: end.timeIntervalSinceNow, head: head) }
        let len = head || x.status == 204 || x.status == 304 ? 0 : Int(x.header("Content-Length") ?? "0") ?? 0
        x.body.reserveCapacity(len)
        while buffer.count < len - x.body.count {
            x.body += buffer
            buffer.removeAll(keepingCapacity: true)
            try more()
        }
        let need = len - x.body.count
        x.body += buffer[0..<need]
        buffer.removeFirst(need)
        return x
    }

    /// Sends bytes, ignoring a peer that stops reading (it may answer early and close).
    func sendIgnoringErrors(_ bytes: [UInt8]) {
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, min($0.count, 1 << 20), Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            off += n
        }
    }
}

/// Requests against one server.
struct ArtifactAPI {
    let port: Int
    var apiKey: String?

    func request(_ method: String, _ target: String, headers: [String] = [], body: [UInt8] = [], timeout: Double = 30) throws -> Exchange {
        let c = try TestClient(port: port)
        var head = "\(method) \(target) HTTP/1.1\r\nHost: t\r\n"
        if let apiKey { head += "Authorization: Bearer \(apiKey)\r\n" }
        for h in headers { head += h + "\r\n" }
        if !body.isEmpty || method == "POST" { head += "Content-Length: \(body.count)\r\n" }
        try c.send(Array((head + "\r\n").utf8) + body)
        return try c.exchange(timeout: timeout, head: method == "HEAD")
    }

    func upload(_ run: String, _ bytes: [UInt8], name: String = "a.bin", kind: String = "other", chunked: [Int]? = nil,
                timeout: Double = 120) throws -> Exchange {
        let c = try TestClient(port: port)
        let n = name.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? name
        var head = "POST /api/tests/\(run)/artifacts?name=\(n)&kind=\(kind) HTTP/1.1\r\nHost: t\r\n"
        if let apiKey { head += "Authorization: Bearer \(apiKey)\r\n" }
        if let sizes = chunked {
            try c.send(head + "Transfer-Encoding: chunked\r\n\r\n")
            var at = 0, i = 0
            while at < bytes.count {
                let len = min(sizes[i % sizes.count], bytes.count - at)
                try c.send(Array((String(len, radix: 16) + "\r\n").utf8) + bytes[at..<(at + len)] + [13, 10])
                at += len
                i += 1
            }
            try c.send("0\r\n\r\n")
        } else {
            try c.send(head + "Content-Length: \(bytes.count)\r\n\r\n")
            var at = 0
            while at < bytes.count {
                let end = min(at + (4 << 20), bytes.count)
                try c.send(Array(bytes[at..<end]))
                at = end
            }
        }
        return try c.exchange(timeout: timeout)
    }

    /// The signed URL of an artifact, as a request target (`/files/…?expires=…&signature=…`).
    func signedTarget(_ run: String, _ id: String) throws -> String {
        let r = try request("GET", "/api/tests/\(run)/artifacts/\(id)/download")
        guard r.status == 200, let url = r.json["url"] as? String, let u = URLComponents(string: url) else {
            throw TestError("download link: \(r.status) \(r.text)")
        }
        return u.percentEncodedPath + "?" + (u.percentEncodedQuery ?? "")
    }

    func metrics() throws -> String { try request("GET", "/metrics").text }

    /// A metric's value (`name` with its labels, as exposed); throws when it is not exposed.
    func metric(_ name: String) throws -> Double {
        for line in try metrics().split(separator: "\n") where line.hasPrefix(name + " ") {
            if let v = Double(line.split(separator: " ").last!) { return v }
        }
        throw TestError("no metric \(name) in /metrics")
    }
}

func sha256Hex(_ b: [UInt8]) -> String {
    var d = [UInt8](repeating: 0, count: 32)
    CShim_sha256(b, b.count, &d)
    return Hex.encode(d)
}

/// Deterministic pseudo-random bytes (incompressible).
func noise(_ n: Int, seed: UInt64 = 42) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: n)
    var x = seed &* 6364136223846793005 &+ 1442695040888963407
    out.withUnsafeMutableBytes { p in
        var i = 0
        while i + 8 <= n { x ^= x << 13; x ^= x >> 7; x ^= x << 17; p.storeBytes(of: x, toByteOffset: i, as: UInt64.self); i += 8 }
        while i < n { x ^= x << 13; x ^= x >> 7; x ^= x << 17; p[i] = UInt8(truncatingIfNeeded: x); i += 1 }
    }
    return out
}

/// Text like a test runner's trace or log (compresses well).
func traceText(_ n: Int) -> [UInt8] {
    var out: [UInt8] = []
    out.reserveCapacity(n + 200)
    var i = 0
    while out.count < n {
        out += Array("{\"type\":\"action\",\"callId\":\"call@\(i)\",\"apiName\":\"page.click\",\"selector\":\"#item-\(i % 97)\",\"startTime\":\(1000 + i * 7)}\n".utf8)
        i += 1
    }
    return Array(out.prefix(n))
}

/// Inflates a gzip body.
func gunzip(_ b: [UInt8]) -> [UInt8]? {
    guard let z = CShim_inflate_new(31) else { return nil }
    defer { CShim_z_free(z) }
    var out: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 1 << 16)
    var at = 0
    while true {
        var consumed = 0, produced = 0
        let rc = b.withUnsafeBytes { inp in
            buf.withUnsafeMutableBytes { o in
                CShim_z_inflate(z, inp.baseAddress! + at, inp.count - at, o.baseAddress, o.count, Int32(CShim_Z_NO_FLUSH), &consumed, &produced)
            }
        }
        at += consumed
        out += buf[0..<produced]
        if rc == Int32(CShim_Z_STREAM_END) { return out }
        if rc != Int32(CShim_Z_OK) && rc != Int32(CShim_Z_BUF_ERROR) { return nil }
        if consumed == 0 && produced == 0 { return nil }
    }
}

/// Files in a run's directory of a store.
func storeFiles(_ storage: String, _ run: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: "\(storage)/artifacts/\(run)")) ?? []).sorted()
}

/// Rewrites an artifact's `createdAt` on disk (as an operator or a clock skew could).
func backdate(_ storage: String, _ run: String, _ id: String, days: Double) throws {
    let path = "\(storage)/artifacts/\(run)/\(id).json"
    guard var obj = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any] else {
        throw TestError("\(path) is not a JSON object")
    }
    obj["createdAt"] = ISOTime.format(Date().timeIntervalSince1970 - days * 86400)
    try JSONSerialization.data(withJSONObject: obj).write(to: URL(fileURLWithPath: path))
}
