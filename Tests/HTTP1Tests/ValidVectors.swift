import HTTP1

/// A request head the parser must accept, with every field it must report.
struct ValidVector: Sendable, CustomStringConvertible {
    var name: String
    var request: String
    var method: HTTPMethod = .get
    var target: String = "/"
    var path: String = "/"
    var query: String? = nil
    var minor: UInt8 = 1
    var fields: [String] = ["Host=a"]
    var contentLength: Int64 = -1
    var chunked = false
    var keepAlive = true
    var expectContinue = false
    var upgrade = false
    /// Bytes after the head (a body) that the parser must not count.
    var trailing: String = ""

    var description: String { name }
    var input: [UInt8] { bytes(request + trailing) }
    var headLength: Int { request.utf8.count }
}

let manyFields = (1...30).map { "X-Field-\($0)=value \($0)" }

let validVectors: [ValidVector] = [
    ValidVector(name: "GET origin-form without query", request: "GET / HTTP/1.1\r\nHost: a\r\n\r\n"),
    ValidVector(
        name: "GET with query", request: "GET /search?q=swift&x=%20&y=? HTTP/1.1\r\nHost: a\r\n\r\n",
        target: "/search?q=swift&x=%20&y=?", path: "/search", query: "q=swift&x=%20&y=?"),
    ValidVector(name: "GET with empty query", request: "GET /a? HTTP/1.1\r\nHost: a\r\n\r\n",
                target: "/a?", path: "/a", query: ""),
    ValidVector(name: "HEAD", request: "HEAD /health HTTP/1.1\r\nHost: a\r\n\r\n",
                method: .head, target: "/health", path: "/health"),
    ValidVector(
        name: "POST with Content-Length and body",
        request: "POST /api/runs HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n",
        method: .post, target: "/api/runs", path: "/api/runs", fields: ["Host=a", "Content-Length=5"],
        contentLength: 5, trailing: "hello"),
    ValidVector(
        name: "Content-Length zero, leading zeros, identical repeats",
        request: "PUT /x HTTP/1.1\r\nHost: a\r\ncontent-length: 007\r\nContent-Length: 7\r\n\r\n",
        method: .put, target: "/x", path: "/x", fields: ["Host=a", "content-length=007", "Content-Length=7"],
        contentLength: 7),
    ValidVector(
        name: "Content-Length Int64.max",
        request: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9223372036854775807\r\n\r\n",
        method: .post, fields: ["Host=a", "Content-Length=9223372036854775807"], contentLength: .max),
    ValidVector(
        name: "chunked", request: "POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n",
        method: .post, target: "/upload", path: "/upload", fields: ["Host=a", "Transfer-Encoding=Chunked"],
        chunked: true, trailing: "5\r\nhello\r\n0\r\n\r\n"),
    ValidVector(name: "HTTP/1.0 closes by default", request: "GET / HTTP/1.0\r\n\r\n",
                minor: 0, fields: [], keepAlive: false),
    ValidVector(
        name: "HTTP/1.0 keep-alive", request: "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
        minor: 0, fields: ["Connection=Keep-Alive"]),
    ValidVector(
        name: "HTTP/1.0 keep-alive then close", request: "GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n",
        minor: 0, fields: ["Connection=keep-alive, close"], keepAlive: false),
    ValidVector(
        name: "HTTP/1.1 Connection close in a token list",
        request: "GET / HTTP/1.1\r\nHost: a\r\nConnection: foo ,  CLOSE,bar\r\n\r\n",
        fields: ["Host=a", "Connection=foo ,  CLOSE,bar"], keepAlive: false),
    ValidVector(
        name: "closer is not close", request: "GET / HTTP/1.1\r\nHost: a\r\nConnection: closer, ,\r\n\r\n",
        fields: ["Host=a", "Connection=closer, ,"]),
    ValidVector(
        name: "WebSocket upgrade", request:
            "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n",
        target: "/ws", path: "/ws", fields: ["Host=a", "Connection=keep-alive, Upgrade", "Upgrade=websocket"],
        upgrade: true),
    ValidVector(
        name: "upgrade token across Connection lines", request:
            "GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: keep-alive\r\nHost: a\r\nconnection: UPGRADE\r\n\r\n",
        fields: ["Upgrade=websocket", "Connection=keep-alive", "Host=a", "connection=UPGRADE"], upgrade: true),
    ValidVector(
        name: "Connection upgrade without Upgrade field",
        request: "GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\n\r\n",
        fields: ["Host=a", "Connection=upgrade"]),
    ValidVector(
        name: "Upgrade field without Connection token",
        request: "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n",
        fields: ["Host=a", "Upgrade=websocket"]),
    ValidVector(
        name: "absolute-form", request: "GET http://example.com:8080/a/b?c=d HTTP/1.1\r\nHost: x\r\n\r\n",
        target: "http://example.com:8080/a/b?c=d", path: "/a/b", query: "c=d", fields: ["Host=x"]),
    ValidVector(
        name: "absolute-form without path", request: "GET https://example.com HTTP/1.1\r\nHost: x\r\n\r\n",
        target: "https://example.com", path: "", fields: ["Host=x"]),
    ValidVector(
        name: "absolute-form with query and no path", request: "GET http://h?x HTTP/1.1\r\nHost: x\r\n\r\n",
        target: "http://h?x", path: "", query: "x", fields: ["Host=x"]),
    ValidVector(name: "OPTIONS asterisk-form", request: "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
                method: .options, target: "*", path: "*"),
    ValidVector(name: "CONNECT authority-form", request: "CONNECT example.com:443 HTTP/1.1\r\nHost: a\r\n\r\n",
                method: .connect, target: "example.com:443", path: ""),
    ValidVector(name: "lone LF line endings", request: "GET /lf HTTP/1.1\nHost: a\n\n",
                target: "/lf", path: "/lf"),
    ValidVector(name: "mixed CRLF and LF", request: "GET / HTTP/1.1\nHost: a\r\nX: y\n\r\n",
                fields: ["Host=a", "X=y"]),
    ValidVector(name: "leading empty lines skipped", request: "\r\n\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"),
    ValidVector(
        name: "thirty fields",
        request: "GET / HTTP/1.1\r\nHost: a\r\n" + (1...30).map { "X-Field-\($0): value \($0)\r\n" }.joined() + "\r\n",
        fields: ["Host=a"] + manyFields),
    ValidVector(
        name: "value OWS trimmed, inner whitespace kept",
        request: "GET / HTTP/1.1\r\nHost:a\r\nX-A:   spaced \t value \t \r\nX-Empty:\r\nX-Blank: \t \r\nX-Tab:\tv\t\r\n\r\n",
        fields: ["Host=a", "X-A=spaced \t value", "X-Empty=", "X-Blank=", "X-Tab=v"]),
    ValidVector(
        name: "obs-text in value", request: "GET / HTTP/1.1\r\nHost: a\r\nX-Name: h\u{e9}llo \u{1F600}\r\n\r\n",
        fields: ["Host=a", "X-Name=h\u{e9}llo \u{1F600}"]),
    ValidVector(
        name: "token characters in names", request: "GET / HTTP/1.1\r\nHost: a\r\n!#$%&'*+-.^_`|~09azAZ: t\r\n\r\n",
        fields: ["Host=a", "!#$%&'*+-.^_`|~09azAZ=t"]),
    ValidVector(
        name: "Expect 100-continue", request:
            "POST /u HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 3\r\n\r\n",
        method: .post, target: "/u", path: "/u", fields: ["Host=a", "Expect=100-Continue", "Content-Length=3"],
        contentLength: 3, expectContinue: true),
    ValidVector(
        name: "Expect ignored in HTTP/1.0", request: "POST / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n",
        method: .post, minor: 0, fields: ["Expect=100-continue"], keepAlive: false),
    ValidVector(name: "unknown method token", request: "PURGE /c HTTP/1.1\r\nHost: a\r\n\r\n",
                method: .other, target: "/c", path: "/c"),
    ValidVector(name: "methods are case-sensitive", request: "get / HTTP/1.1\r\nHost: a\r\n\r\n", method: .other),
    ValidVector(name: "DELETE", request: "DELETE /r/1 HTTP/1.1\r\nHost: a\r\n\r\n",
                method: .delete, target: "/r/1", path: "/r/1"),
    ValidVector(name: "PATCH", request: "PATCH / HTTP/1.1\r\nHost: a\r\n\r\n", method: .patch),
    ValidVector(name: "TRACE", request: "TRACE / HTTP/1.1\r\nHost: a\r\n\r\n", method: .trace),
    ValidVector(name: "OPTIONS origin-form", request: "OPTIONS /x HTTP/1.1\r\nHost: a\r\n\r\n",
                method: .options, target: "/x", path: "/x"),
]

/// Checks every reported field of a complete parse against the vector.
func check(_ vector: ValidVector, _ parsed: Parsed) -> [String] {
    let input = vector.input
    var problems: [String] = []
    func expectEqual<T: Equatable>(_ label: String, _ actual: T, _ expected: T) {
        if actual != expected { problems.append("\(label): \(actual) != \(expected)") }
    }
    let head = parsed.head
    expectEqual("result", parsed.result, .complete(headLength: vector.headLength))
    expectEqual("headLength", head.headLength, vector.headLength)
    expectEqual("method", head.method, vector.method)
    expectEqual("target", text(input, head.targetStart, head.targetLength), vector.target)
    expectEqual("path", text(input, head.pathStart, head.pathLength), vector.path)
    let query = input.withUnsafeBytes { buffer in
        head.query(in: buffer).map { String(decoding: $0, as: UTF8.self) }
    }
    expectEqual("query", query, vector.query)
    expectEqual("minor", head.versionMinor, vector.minor)
    expectEqual("fields", fields(input, parsed), vector.fields)
    expectEqual("headerCount", head.headerCount, vector.fields.count)
    expectEqual("contentLength", head.contentLength, vector.contentLength)
    expectEqual("chunked", head.chunked, vector.chunked)
    expectEqual("keepAlive", head.keepAlive, vector.keepAlive)
    expectEqual("expectContinue", head.expectContinue, vector.expectContinue)
    expectEqual("upgrade", head.upgrade, vector.upgrade)
    return problems
}
