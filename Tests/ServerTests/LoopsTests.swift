import Foundation
import Testing
@testable import Server

/// `LOOPS=2`: two event loops in one process share the port and one hub.
@Suite("Several loops in one process")
struct LoopsTests {
    @Test func subscribersOnBothLoopsSeeEverySeqOnceInOrder() throws {
        let s = try TestServer(["LOOPS": "2"]); defer { s.stop() }
        let runs = ["a", "b"]
        var subs: [(TestClient, String)] = []
        for i in 0..<24 {
            let r = runs[i % 2]
            subs.append((try s.subscribeRun(r), r))
        }
        for (c, _) in subs { _ = try c.subscribedEpoch() }
        let mux = try s.subscribeMux(runs)
        // The kernel spread the sockets over both loops (all 25 on one: odds 2^-24).
        #expect(try eventually { try s.bothLoopsHoldWebSockets() })
        // Publishers on several connections (so on both loops), interleaved per run.
        let publishers = try (0..<4).map { _ in try TestClient(port: s.port) }
        let n = 60
        for i in 1...n {
            for r in runs {
                let p = publishers[(i + (r == "a" ? 0 : 1)) % publishers.count]
                try p.send("POST /api/tests/\(r)/events HTTP/1.1\r\nHost: t\r\nContent-Length: \("{\"i\":\(i)}".utf8.count)\r\n\r\n{\"i\":\(i)}")
                #expect(try p.response().status == 201)
            }
        }
        for (c, r) in subs { #expect(try c.eventSeqs(n) == Array(1...n), "subscriber of \(r)") }
        #expect(try mux.eventSeqs(2 * n).sorted() == (1...n).flatMap { [$0, $0] }, "each run's seqs once each")
        #expect(try eventually { try s.stats()["activeRuns"] as? Int == 2 && s.stats()["localConnections"] as? Int == 25 })
        // Counted once each: published where it was published, relayed on the other loop.
        #expect(try s.metric("runwire_events_published_total") == 2 * n)
        #expect(try s.metric("runwire_events_relayed_total") == 2 * n)
    }

    @Test func resumeHistoryAndEpochWorkFromEitherLoop() throws {
        let s = try TestServer(["LOOPS": "2"]); defer { s.stop() }
        try s.publishSequence("r", 1...30)
        var epochs = Set<String>()
        var subs: [TestClient] = []
        for _ in 0..<24 {
            let c = try s.subscribeRun("r", query: "?since=25")
            epochs.insert(try c.subscribedEpoch())
            #expect(try c.eventSeqs(5) == Array(26...30))
            let h = try JSONSerialization.jsonObject(with: Data(s.get("/api/tests/r/events?since=28").body)) as? [String: Any]
            #expect((h?["events"] as? [[String: Any]])?.compactMap { $0["seq"] as? Int } == [29, 30])
            subs.append(c)
        }
        // The kernel spread them over both loops (all 24 on one: odds 2^-23).
        #expect(try eventually { try s.bothLoopsHoldWebSockets() })
        #expect(epochs.count == 1, "one epoch for the run on every loop")
        // Both loops hold the history, sharing its frames: the bytes count once, as with one loop.
        let one = try TestServer(); defer { one.stop() }
        try one.publishSequence("r", 1...30)
        #expect(try s.metric("runwire_history_bytes") == one.metric("runwire_history_bytes") && one.metric("runwire_history_bytes") > 0)
        let foreign = try s.subscribeRun("r", query: "?since=25&epoch=other")
        _ = try foreign.subscribedEpoch()
        let gap = try foreign.nextJSON()
        #expect(gap["type"] as? String == "gap" && gap["from"] as? Int == 1)
        #expect(try foreign.eventSeqs(30) == Array(1...30))
    }

    @Test func loopsWithRedisIsRefusedAndAutoMeansOnePerCore() throws {
        guard case .failure(let e) = Config.load(dotenv: nil, environment: ["LOOPS": "2", "REDIS_URL": "redis://127.0.0.1:6379"], flags: [:]) else {
            Issue.record("LOOPS=2 with REDIS_URL was accepted"); return
        }
        #expect(e.description.contains("LOOPS"))
        let auto = try Config.load(dotenv: nil, environment: ["LOOPS": "auto"], flags: [:]).get()
        #expect(auto.loops == Config.coreCount)
        guard case .failure = Config.load(dotenv: nil, environment: ["LOOPS": "0"], flags: [:]) else {
            Issue.record("LOOPS=0 was accepted"); return
        }
    }

    @Test func sigtermStopsEveryLoop() throws {
        let p = try ServerProcess(["--port", "0", "--loops", "2"])
        try p.waitListening()
        let socks = try (0..<6).map { _ in try p.subscribeRun("s") }
        for c in socks { _ = try c.subscribedEpoch() }
        p.signal(SIGTERM)
        for c in socks { #expect(try c.readCloseCode(timeout: 5) == 1001) }
        p.expectCleanExit()
    }
}

extension ListeningServer {
    /// The values of a labelled metric's lines (`name{…} value`).
    func metricLines(_ name: String) throws -> [Int] {
        try get("/metrics").text.split(separator: "\n").filter { $0.hasPrefix(name + "{") }.compactMap { Int($0.split(separator: " ").last!) }
    }

    /// True when `runwire_loop_ws_connections` has two loops and both hold WebSockets.
    func bothLoopsHoldWebSockets() throws -> Bool {
        let perLoop = try metricLines("runwire_loop_ws_connections")
        return perLoop.count == 2 && perLoop.allSatisfy { $0 > 0 }
    }
}
