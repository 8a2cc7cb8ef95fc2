import Foundation
import Testing
@testable import Server

/// A subscriber over a raw socket: reads JSON text messages.
extension TestClient {
    func nextJSON(timeout: Double = 5) throws -> [String: Any] {
        (try JSONSerialization.jsonObject(with: Data(nextText(timeout: timeout).utf8))) as? [String: Any] ?? [:]
    }

    /// The next text message, byte for byte.
    func nextText(timeout: Double = 5) throws -> String {
        while true {
            let (b0, p) = try readFrame(timeout: timeout)
            if b0 & 0x0f == 8 { throw TestError("closed by server: \(p.count >= 2 ? Int(p[0]) << 8 | Int(p[1]) : 0)") }
            if b0 & 0x0f == 1 { return String(decoding: p, as: UTF8.self) }
        }
    }

    func sendJSON(_ text: String) throws { try sendFrame(1, Array(text.utf8)) }
}

extension ListeningServer {
    /// POSTs `body` to a run; returns status and JSON.
    func publish(_ run: String, _ body: String, headers: String = "") throws -> HTTPResponse {
        let c = try TestClient(port: port)
        try c.send("POST /api/tests/\(run)/events HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n\(headers)Content-Length: \(body.utf8.count)\r\n\r\n\(body)")
        return try c.response()
    }

    /// A subscriber on the single-run socket (`query` e.g. "?since=0").
    func subscribeRun(_ run: String, query: String = "", receiveBuffer: Int32? = nil) throws -> TestClient {
        let c = try TestClient(port: port, receiveBuffer: receiveBuffer)
        let r = try c.handshake(path: "/api/tests/\(run)/events\(query)")
        guard r.status == 101 else { throw TestError("handshake \(r.status)") }
        return c
    }

    /// A multiplexed socket subscribed to `runs`; the `subscribed` replies are consumed.
    func subscribeMux(_ runs: [String]) throws -> TestClient {
        let c = try TestClient(port: port)
        guard try c.handshake(path: "/api/ws").status == 101 else { throw TestError("mux handshake") }
        for r in runs {
            try c.sendJSON("{\"op\":\"subscribe\",\"runId\":\"\(r)\"}")
            let m = try c.nextJSON()
            guard m["type"] as? String == "subscribed" else { throw TestError("expected subscribed, got \(m)") }
        }
        return c
    }
}

@Suite("Run events: publish, subscribe, order, resume, backpressure")
struct RunEventsTests {
    @Test func everySubscriberSeesEverySeqOnceInOrderWithBytesIntact() throws {
        let s = try TestServer(); defer { s.stop() }
        let runs = ["alpha", "beta.2", "gamma_3"]
        var singles: [String: [TestClient]] = [:]
        for r in runs {
            singles[r] = try (0..<2).map { _ in
                let c = try s.subscribeRun(r)
                #expect(try c.nextJSON()["type"] as? String == "subscribed")
                return c
            }
        }
        let mux = try (0..<2).map { _ in try s.subscribeMux(runs) }
        // Two publishers per run, concurrently, 25 requests of 2 events each.
        let perPublisher = 50
        DispatchQueue.concurrentPerform(iterations: runs.count * 2) { k in
            let run = runs[k / 2], pub = k % 2
            for i in stride(from: 0, to: perPublisher, by: 2) {
                let body = "[{\"pub\":\(pub),\"i\":\(i),\"text\":\"é ✓ \\\"q\\\"\"},{\"pub\":\(pub),\"i\":\(i + 1),\"text\":\"é ✓ \\\"q\\\"\"}]"
                _ = try? s.publish(run, body)
            }
        }
        let total = perPublisher * 2
        func check(_ events: [[String: Any]], run: String) {
            #expect(events.map { $0["seq"] as? Int ?? -1 } == Array(1...total), "seq order on \(run)")
            for pub in 0..<2 {
                let mine = events.compactMap { $0["data"] as? [String: Any] }.filter { $0["pub"] as? Int == pub }
                #expect(mine.map { $0["i"] as? Int ?? -1 } == Array(0..<perPublisher), "publisher \(pub) order on \(run)")
                #expect(mine.allSatisfy { $0["text"] as? String == "é ✓ \"q\"" })
            }
            #expect(events.allSatisfy { $0["runId"] as? String == run && $0["type"] as? String == "event" })
        }
        for r in runs {
            for c in singles[r]! { check(try (0..<total).map { _ in try c.nextJSON() }, run: r) }
        }
        for c in mux {
            var byRun: [String: [[String: Any]]] = [:]
            for _ in 0..<(total * runs.count) {
                let m = try c.nextJSON()
                byRun[m["runId"] as? String ?? "", default: []].append(m)
            }
            for r in runs { check(byRun[r] ?? [], run: r) }
        }
        // 4 sockets on each of 3 runs, 100 events each: every frame handed over counted once.
        #expect(try s.metric("runwire_event_deliveries_total") == 4 * 3 * total)
        let stats = try s.get("/api/ws/stats").json
        #expect(stats["activeRuns"] as? Int == 3)
        #expect(stats["localConnections"] as? Int == 8)
    }

    @Test func publishedBytesAreEmbeddedVerbatim() throws {
        let s = try TestServer(); defer { s.stop() }
        let c = try s.subscribeRun("verbatim")
        _ = try c.nextJSON()
        let body = "{ \"type\" : \"log\",\n \"n\": 1.50e3, \"u\": \"\\u00e9\" }"
        #expect(try s.publish("verbatim", body).status == 201)
        let (_, payload) = try c.readFrame()
        #expect(String(decoding: payload, as: UTF8.self).hasSuffix(",\"data\":\(body)}"))
    }

    @Test func resumeWithSinceGetsExactlyTheMissedEvents() throws {
        let s = try TestServer(); defer { s.stop() }
        var c = try s.subscribeRun("resume")
        let sub = try c.nextJSON()
        let epoch = sub["epoch"] as? String ?? ""
        for i in 1...5 { _ = try s.publish("resume", "{\"i\":\(i)}") }
        for _ in 1...3 { _ = try c.nextJSON() } // saw 1...3, then drops
        c = try TestClient(port: s.port) // the old one is gone
        for i in 6...8 { _ = try s.publish("resume", "{\"i\":\(i)}") }
        c = try s.subscribeRun("resume", query: "?since=3&epoch=\(epoch)")
        #expect(try c.nextJSON()["seq"] as? Int == 8)
        let replay = try (0..<5).map { _ in try c.nextJSON() }
        #expect(replay.map { $0["seq"] as? Int } == [4, 5, 6, 7, 8])
        _ = try s.publish("resume", "{\"i\":9}")
        #expect(try c.nextJSON()["seq"] as? Int == 9) // then live, no duplicate
    }

    @Test func resumePastHistoryGetsAGapThenWhatIsRetained() throws {
        let s = try TestServer(["HISTORY_MAX_EVENTS": "5"]); defer { s.stop() }
        for i in 1...20 { _ = try s.publish("short", "{\"i\":\(i)}") }
        let c = try s.subscribeMux([])
        try c.sendJSON("{\"op\":\"subscribe\",\"runId\":\"short\",\"since\":2}")
        #expect(try c.nextJSON()["type"] as? String == "subscribed")
        let gap = try c.nextJSON()
        #expect(gap["type"] as? String == "gap" && gap["from"] as? Int == 3 && gap["to"] as? Int == 15)
        #expect(try (0..<5).map { _ in try c.nextJSON()["seq"] as? Int } == [16, 17, 18, 19, 20])
        let h = try s.get("/api/tests/short/events?since=2").json
        #expect(h["firstSeq"] as? Int == 16 && (h["events"] as? [Any])?.count == 5 && h["seq"] as? Int == 20)
    }

    @Test func unknownEpochGetsAGapFromOneAndTheWholeHistory() throws {
        let s = try TestServer(); defer { s.stop() }
        for i in 1...3 { _ = try s.publish("epochs", "{\"i\":\(i)}") }
        let c = try s.subscribeRun("epochs", query: "?since=3&epoch=stale")
        #expect(try c.nextJSON()["type"] as? String == "subscribed")
        let gap = try c.nextJSON()
        #expect(gap["type"] as? String == "gap" && gap["from"] as? Int == 1)
        #expect(try (0..<3).map { _ in try c.nextJSON()["seq"] as? Int } == [1, 2, 3])
    }

    @Test func slowConsumerIsClosedWith1013AndOthersKeepUp() throws {
        let s = try TestServer(["WS_MAX_QUEUED_BYTES": "65536"]); defer { s.stop() }
        let slow = try s.subscribeRun("busy", receiveBuffer: 4096) // a small window: the queue fills sooner
        let fast = try s.subscribeRun("busy")
        _ = try fast.nextJSON()
        let blob = String(repeating: "x", count: 16_000)
        var got = 0
        // 600 × 16 KB: far more than the kernel's socket buffers and the 64 KiB bound together.
        for i in 1...600 {
            #expect(try s.publish("busy", "{\"i\":\(i),\"blob\":\"\(blob)\"}").status == 201)
            got += 1
            #expect(try fast.nextJSON()["seq"] as? Int == i) // the fast one is never held back
        }
        #expect(got == 600)
        #expect(try eventually { try s.metric("runwire_ws_slow_consumers_closed_total") == 1 })
        // The slow one, reading at last, finds a close 1013 after what was queued.
        #expect(try slow.readCloseCode(timeout: 10) == 1013)
    }

    @Test func oneBatchLargerThanTheQueueBoundReachesSubscribersThatRead() throws {
        // The bound is how far behind a subscriber is, not the size of one batch. One publish of
        // six 1 MiB events (EVENT_MAX_BYTES 8 MiB) is more than the kernel takes at once (about
        // 4 MB on loopback), so ~2 MB wait in user space — over WS_MAX_QUEUED_BYTES (1 MiB) —
        // for subscribers that read as fast as they can: none may be closed.
        let s = try TestServer(["EVENT_MAX_BYTES": "8388608"]); defer { s.stop() }
        let subs = try (0..<3).map { _ in try s.subscribeRun("large") }
        for c in subs { _ = try c.nextJSON() }
        let blob = String(repeating: "y", count: 1 << 20)
        for round in 0..<2 {
            let batch = "[" + (1...6).map { "{\"i\":\($0),\"blob\":\"\(blob)\"}" }.joined(separator: ",") + "]"
            #expect(try s.publish("large", batch).status == 201)
            for c in subs {
                for i in 1...6 {
                    let e = try c.nextJSON(timeout: 10)
                    #expect(e["seq"] as? Int == round * 6 + i && ((e["data"] as? [String: Any])?["blob"] as? String)?.count == blob.count)
                }
            }
        }
        #expect(try s.metric("runwire_ws_slow_consumers_closed_total") == 0)
    }

    @Test func aBatchPastIOVMaxReachesEverySubscriber() throws {
        // 1,100 frames for one socket in one iteration: more than writev takes at once (1024).
        let s = try TestServer(); defer { s.stop() }
        let sub = try s.subscribeRun("big")
        _ = try sub.subscribedEpoch()
        let body = "[" + (1...1100).map { "{\"i\":\($0)}" }.joined(separator: ",") + "]"
        #expect(try s.publish("big", body).status == 201)
        #expect(try sub.eventSeqs(1100) == Array(1...1100))
    }

    @Test func invalidJSONPublishesNothing() throws {
        let s = try TestServer(); defer { s.stop() }
        #expect(try s.publish("bad", "[{\"ok\":1}]").status == 201)
        let r = try s.publish("bad", "[{\"ok\":2}, {\"broken\": ]")
        #expect(r.status == 400)
        #expect((r.json["error"] as? [String: Any])?["code"] as? String == "invalid_json")
        #expect(((r.json["error"] as? [String: Any])?["message"] as? String)?.contains("byte") == true)
        #expect(try s.publish("bad", "[1, 2]").status == 400) // objects only
        #expect(try s.publish("bad", "[]").status == 400)
        #expect(try s.get("/api/tests/bad/events").json["seq"] as? Int == 1) // nothing of those published
    }

    @Test func chunkedAndExpectContinuePublishesWork() throws {
        let s = try TestServer(); defer { s.stop() }
        let c = try TestClient(port: s.port)
        let body = "[{\"n\":1},{\"n\":2}]"
        let half = body.utf8.count / 2
        let a = String(body.prefix(half)), b = String(body.dropFirst(half))
        try c.send("POST /api/tests/chunky/events HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" +
                   "\(String(a.utf8.count, radix: 16));ext=1\r\n\(a)\r\n\(String(b.utf8.count, radix: 16))\r\n\(b)\r\n0\r\n\r\n")
        let r = try c.response()
        #expect(r.status == 201 && r.json["last"] as? Int == 2)
        let d = try TestClient(port: s.port)
        try d.send("POST /api/tests/chunky/events HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 7\r\n\r\n")
        #expect(try d.response().status == 100) // asked to go on before sending the body
        try d.send("{\"n\":3}")
        let done = try d.response()
        #expect(done.status == 201 && done.json["first"] as? Int == 3)
    }

    @Test func oversizedBodyAndInvalidRunIdAreRejected() throws {
        let s = try TestServer(["EVENT_MAX_BYTES": "100"]); defer { s.stop() }
        #expect(try s.publish("r", "{\"x\":\"\(String(repeating: "y", count: 200))\"}").status == 413)
        let bad = try s.publish("bad%20id", "{}")
        #expect(bad.status == 400 && (bad.json["error"] as? [String: Any])?["code"] as? String == "invalid_id")
        #expect(try s.publish("..", "{}").status == 400)
        #expect(try s.publish(String(repeating: "a", count: 129), "{}").status == 400)
        #expect(try s.get("/api/tests/nope/events").status == 404)
    }

    @Test func badOpsGetErrorsAndTheSocketStaysOpen() throws {
        let s = try TestServer(["WS_MAX_SUBSCRIPTIONS": "3"]); defer { s.stop() }
        let c = try s.subscribeMux(["a", "b", "c"])
        try c.sendJSON("{\"op\":\"subscribe\",\"runId\":\"d\"}")
        #expect(try c.nextJSON()["code"] as? String == "too_many_subscriptions")
        try c.sendJSON("{\"op\":\"dance\",\"runId\":\"a\"}")
        #expect(try c.nextJSON()["code"] as? String == "unknown_op")
        try c.sendJSON("not json")
        #expect(try c.nextJSON()["code"] as? String == "invalid_json")
        try c.sendJSON("{\"op\":\"subscribe\",\"runId\":\"bad id\"}")
        #expect(try c.nextJSON()["code"] as? String == "invalid_id")
        try c.sendJSON("{\"op\":\"unsubscribe\",\"runId\":\"zzz\"}")
        #expect(try c.nextJSON()["code"] as? String == "not_subscribed")
        try c.sendJSON("{\"op\":\"unsubscribe\",\"runId\":\"a\"}")
        #expect(try c.nextJSON()["type"] as? String == "unsubscribed")
        // still open and working
        _ = try s.publish("b", "{\"still\":\"here\"}")
        #expect(try c.nextJSON()["runId"] as? String == "b")
    }

    @Test func apiKeysGuardPublishing() throws {
        let s = try TestServer(["API_KEYS": "k1,k2"]); defer { s.stop() }
        #expect(try s.publish("guarded", "{}").status == 401)
        #expect(try s.publish("guarded", "{}", headers: "Authorization: Bearer nope\r\n").status == 403)
        #expect(try s.publish("guarded", "{}", headers: "Authorization: Bearer k2\r\n").status == 201)
        #expect(try s.publish("guarded", "{}", headers: "X-API-Key: k1\r\n").status == 201)
        let c = try s.subscribeMux([])
        try c.sendJSON("{\"op\":\"publish\",\"runId\":\"guarded\",\"data\":{}}")
        #expect(try c.nextJSON()["code"] as? String == "forbidden")
        let p = try TestClient(port: s.port)
        #expect(try p.handshake(path: "/api/ws?apiKey=k1").status == 101)
        try p.sendJSON("{\"op\":\"publish\",\"runId\":\"guarded\",\"data\":{\"n\":3}}")
        let ack = try p.nextJSON()
        #expect(ack["type"] as? String == "published" && ack["seq"] as? Int == 3)
    }

    @Test func runFinishedEndsTheRunAndItsHistoryExpires() throws {
        let s = try TestServer(["RUN_FINISHED_GRACE": "0.2", "SWEEP_INTERVAL": "0.05"]); defer { s.stop() }
        #expect(try s.publish("done", "[{\"type\":\"step\"},{\"type\":\"run.finished\"}]").status == 201)
        #expect(try eventually { try s.get("/api/tests/done/events").status == 404 })
    }
}

extension ListeningServer {
    /// A counter from /metrics.
    func metric(_ name: String) throws -> Int {
        let text = try get("/metrics").text
        let line = text.split(separator: "\n").first { $0.hasPrefix(name + " ") }
        return line.flatMap { Int($0.split(separator: " ")[1]) } ?? -1
    }
}
