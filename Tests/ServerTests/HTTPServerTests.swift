import Foundation
import Reactor
import Testing
@testable import Server

@Suite("HTTP/1.1 server over loopback")
struct HTTPServerTests {
    @Test func healthAnswersOKWithTimestampAndDate() throws {
        let s = try TestServer(); defer { s.stop() }
        let r = try s.get("/health")
        #expect(r.status == 200)
        #expect(r.json["status"] as? String == "ok")
        let ts = r.json["timestamp"] as? String ?? ""
        #expect(ts.range(of: #"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$"#, options: .regularExpression) != nil, "timestamp \(ts)")
        #expect(r.header("Date")?.hasSuffix(" GMT") == true)
        #expect(r.header("Content-Type") == "application/json")
    }

    /// Event times are written by the loop's cached `appendISO` (embedded mode, `/health`) and by
    /// `ISOTime.format` (Redis mode, artifact times, logs): the same bytes either way.
    @Test func hotAndColdISOTimesAreTheSameBytes() {
        var t = Timestamp()
        var rng = SystemRandomNumberGenerator()
        let times = [0, 0.0005, 0.9999, 951_782_400.5, 1_763_736_592.479, 253_402_300_799.999]
            + (0..<2000).map { _ in Double.random(in: 0..<253_402_300_800, using: &rng) }
        for time in times {
            var b = ByteBuffer()
            t.appendISO(time, to: &b)
            let hot = String(decoding: UnsafeRawBufferPointer(b.readable), as: UTF8.self)
            #expect(hot == Timestamp.iso(time), "\(time)")
        }
    }

    @Test func keepAliveServesManyRequestsOnOneConnection() throws {
        let s = try TestServer(); defer { s.stop() }
        let c = try TestClient(port: s.port)
        for _ in 0..<5 {
            try c.send("GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(try c.response().status == 200)
        }
    }

    @Test func pipelinedRequestsAnswerInOrder() throws {
        let s = try TestServer(); defer { s.stop() }
        let c = try TestClient(port: s.port)
        try c.send("GET /health HTTP/1.1\r\nHost: t\r\n\r\nGET /nope HTTP/1.1\r\nHost: t\r\n\r\nGET /health HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(try c.response().status == 200)
        #expect(try c.response().status == 404) // a 404 without a body keeps the connection
        #expect(try c.response().status == 200)
        let c2 = try TestClient(port: s.port)
        try c2.send("GET /health HTTP/1.1\r\nHost: t\r\n\r\nHEAD /health HTTP/1.1\r\nHost: t\r\n\r\nGET /api/ws/stats HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(try c2.response().status == 200)
        let h = try c2.response(head: true)
        #expect(h.status == 200 && h.header("Content-Length") == "54")
        #expect(try c2.response().json["serverId"] != nil)
    }

    @Test func unknownPathIsJSON404() throws {
        let s = try TestServer(); defer { s.stop() }
        let r = try s.get("/no/such/thing")
        #expect(r.status == 404)
        let err = r.json["error"] as? [String: Any]
        #expect(err?["code"] as? String == "not_found")
        #expect((err?["message"] as? String)?.contains("/no/such/thing") == true)
    }

    @Test func wrongMethodIs405WithAllow() throws {
        let s = try TestServer(); defer { s.stop() }
        let c = try TestClient(port: s.port)
        try c.send("DELETE /health HTTP/1.1\r\nHost: t\r\n\r\n")
        let r = try c.response()
        #expect(r.status == 405)
        #expect(r.header("Allow")?.contains("GET") == true)
        #expect((r.json["error"] as? [String: Any])?["code"] as? String == "method_not_allowed")
    }

    @Test func declaredBodyOverTheRouteLimitIs413BeforeTheBodyArrives() throws {
        let s = try TestServer(); defer { s.stop() }
        let c = try TestClient(port: s.port)
        try c.send("GET /health HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 10000000\r\n\r\n")
        let r = try c.response()
        #expect(r.status == 413) // and no "100 Continue" first
        #expect((r.json["error"] as? [String: Any])?["code"] as? String == "body_too_large")
        #expect(try c.waitForClose(timeout: 5))
    }

    @Test func chunkedBodyOverTheLimitIs413AndEmptyChunkedBodyIsFine() throws {
        let s = try TestServer(); defer { s.stop() }
        let c = try TestClient(port: s.port)
        try c.send("GET /health HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n0;ext=1\r\nX-Trailer: y\r\n\r\n")
        #expect(try c.response().status == 200)
        try c.send("GET /health HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
        #expect(try c.response().status == 413)
    }

    @Test func oversizedHeadIs431() throws {
        let s = try TestServer(); defer { s.stop() }
        let c = try TestClient(port: s.port)
        try c.send("GET /health HTTP/1.1\r\nHost: t\r\nX-Big: \(String(repeating: "a", count: 17_000))\r\n\r\n")
        #expect(try c.response().status == 431)
    }

    @Test(arguments: [
        ("GARBAGE\r\n\r\n", 400, "bad_request_line"),
        ("GET /health HTTP/1.1\r\nHost: t\r\nNoColonHere\r\n\r\n", 400, "bad_header_line"),
        ("GET /health HTTP/1.1\r\n\r\n", 400, "bad_host"),
        ("GET /health HTTP/2.0\r\nHost: t\r\n\r\n", 505, "unsupported_version"),
        ("BREW /health HTTP/1.1\r\nHost: t\r\n\r\n", 501, "not_implemented"),
        ("GET /health HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "content_length_with_transfer_encoding"),
        ("GET /health HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501, "unsupported_transfer_encoding"),
        ("GET /health HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n", 400, "bad_transfer_encoding"),
        ("GET /health HTTP/1.1\r\nHost: t\r\nContent-Length: x1\r\n\r\n", 400, "bad_content_length"),
        ("GET /health HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400, "bad_chunk_size"),
    ])
    func malformedRequestGetsJSONErrorAndClose(request: String, status: Int, code: String) throws {
        let s = try TestServer(); defer { s.stop() }
        let bystander = try TestClient(port: s.port)
        try bystander.send("GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(try bystander.response().status == 200)
        let c = try TestClient(port: s.port)
        try c.send(request)
        let r = try c.response()
        #expect(r.status == status)
        #expect((r.json["error"] as? [String: Any])?["code"] as? String == code)
        #expect((r.json["error"] as? [String: Any])?["message"] as? String != nil)
        #expect(r.header("Connection") == "close")
        #expect(try c.waitForClose(timeout: 5))
        // other connections are unaffected
        try bystander.send("GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(try bystander.response().status == 200)
    }

    @Test func connectionCloseIsHonoured() throws {
        let s = try TestServer(); defer { s.stop() }
        let c = try TestClient(port: s.port)
        try c.send("GET /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        let r = try c.response()
        #expect(r.status == 200 && r.header("Connection") == "close")
        #expect(try c.waitForClose(timeout: 5))
    }

    @Test func slowlorisIsCutOffByTheHeaderTimeout() throws {
        let s = try TestServer(["HEADER_TIMEOUT": "1", "SWEEP_INTERVAL": "0.1"]); defer { s.stop() }
        let c = try TestClient(port: s.port)
        let request = Array("GET /health HTTP/1.1\r\nHost: t\r\nX-Slow: \(String(repeating: "z", count: 40))\r\n\r\n".utf8)
        let start = Date()
        var sent = 0
        var closed = false
        // One byte every 100 ms: the whole head would take > 6 s; the server must cut it at ~1 s.
        while sent < request.count {
            try? c.send([request[sent]])
            sent += 1
            var p = pollfd(fd: c.fd, events: Int16(POLLIN), revents: 0)
            if poll(&p, 1, 100) > 0 { closed = true; break }
        }
        #expect(closed, "server never reacted while the head trickled in")
        let r = try c.response(timeout: 2)
        #expect(r.status == 408)
        #expect(Date().timeIntervalSince(start) < 3)
        #expect(sent < request.count)
        #expect(try c.waitForClose(timeout: 3))
    }

    @Test func statsReportServerIdAndUptime() throws {
        let s = try TestServer(); defer { s.stop() }
        let j = try s.get("/api/ws/stats").json
        let id = j["serverId"] as? String ?? ""
        #expect(id.range(of: "^api_\(getpid())_[0-9]{13}$", options: .regularExpression) != nil, "serverId \(id)")
        #expect(j["localConnections"] as? Int == 0)
        #expect(j["redisConnections"] as? Int == 0)
        #expect(j["activeRuns"] as? Int == 0)
        #expect((j["uptime"] as? Double ?? -1) >= 0)
        #expect(Set(j.keys) == ["serverId", "localConnections", "redisConnections", "activeRuns", "uptime"])
    }

    @Test func readinessFollowsTheStore() throws {
        let s = try TestServer(); defer { s.stop() }
        #expect(try eventually { try s.get("/health/ready").status == 200 })
        // A store below a regular file can never be created: not ready, with the reason.
        let file = NSTemporaryDirectory() + "runwire-file-\(UUID().uuidString)"
        #expect(FileManager.default.createFile(atPath: file, contents: Data("x".utf8)))
        defer { try? FileManager.default.removeItem(atPath: file) }
        let bad = try TestServer(["STORAGE_DIR": file + "/store"]); defer { bad.stop() }
        var last: HTTPResponse?
        #expect(try eventually { last = try bad.get("/health/ready"); return (last?.json["reason"] as? String)?.contains("store") == true })
        #expect(last?.status == 503)
    }

    @Test func metricsArePrometheusText() throws {
        let s = try TestServer(); defer { s.stop() }
        _ = try s.get("/health")
        let r = try s.get("/metrics")
        #expect(r.status == 200)
        #expect(r.header("Content-Type")?.hasPrefix("text/plain") == true)
        #expect(r.text.contains("# TYPE runwire_http_requests_total counter"))
        // Every sample line belongs to a family announced just before it.
        var family = ""
        for line in r.text.split(separator: "\n") {
            if line.hasPrefix("# TYPE ") { family = String(line.split(separator: " ")[2]) }
            else if !line.hasPrefix("#") { #expect(line.hasPrefix(family), "\(line) outside its family \(family)") }
        }
    }

    @Test func withoutRedisNoRedisMetricsAreExported() throws {
        let s = try TestServer(); defer { s.stop() }
        let text = try s.get("/metrics").text
        #expect(text.contains("runwire_http_requests_total"))
        #expect(!text.contains("runwire_redis_"), "Redis metrics without REDIS_URL: \(text)")
    }

    @Test func anErrorAnswerReadsASmallBodyAndAnswersWhatIsPipelinedBehindIt() throws {
        let s = try TestServer(); defer { s.stop() }
        let c = try TestClient(port: s.port)
        // 404 with a body, 413 for a body on a route that takes none, 405 with a chunked body.
        try c.send("POST /no/such HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello"
                   + "GET /health HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc"
                   + "PUT /health HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
                   + "GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
        let answers = try (0..<4).map { _ in try c.response() }
        #expect(answers.map(\.status) == [404, 413, 405, 200])
        #expect(answers.allSatisfy { $0.header("Connection") == nil }, "the connection stays open")
        // A body that arrives later, split, is dropped as it comes.
        try c.send("POST /no/such HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nhel")
        #expect(try c.response().status == 404)
        try c.send("lo12345GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(try c.response().status == 200)
    }

    @Test func anErrorAnswerClosesWhenTheBodyIsTooLargeToDropOrNotSentYet() throws {
        let s = try TestServer(); defer { s.stop() }
        let big = try TestClient(port: s.port)
        try big.send("POST /no/such HTTP/1.1\r\nHost: t\r\nContent-Length: 2000000\r\n\r\nxx")
        let r = try big.response()
        #expect(r.status == 404 && r.header("Connection") == "close")
        #expect(try big.waitForClose(timeout: 5))
        // Expect: 100-continue and no body yet: no 100, the answer, then close (the body may never come).
        let asking = try TestClient(port: s.port)
        try asking.send("POST /no/such HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 10\r\n\r\n")
        let a = try asking.response()
        #expect(a.status == 404 && a.header("Connection") == "close")
        #expect(try asking.waitForClose(timeout: 5))
    }
}
