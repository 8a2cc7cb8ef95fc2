import Foundation
import RedisServerSupport
import Testing
@testable import Server

/// Runwire instances as child processes sharing one real redis-server.
func startCluster(_ n: Int, _ redis: RedisServer, _ extra: [String] = []) throws -> [ServerProcess] {
    let nodes = try (0..<n).map { _ in
        try ServerProcess(["--port", "0", "--redis-url", redis.url, "--cluster-heartbeat", "0.2", "--sweep-interval", "0.1"] + extra)
    }
    for p in nodes { try p.waitListening() }
    for p in nodes { #expect(try p.waitReady(), "instance on \(p.port) did not become ready: \(p.log)") }
    return nodes
}

extension ListeningServer {
    /// Waits (bounded) until /health/ready answers 200.
    func waitReady(timeout: Double = 15) throws -> Bool {
        eventually(timeout: timeout) { (try? get("/health/ready").status) == 200 }
    }

    func stats() throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(get("/api/ws/stats").body)) as? [String: Any] ?? [:]
    }

    /// Publishes `{"i":n}` for each n to `run`, expecting 201 each time.
    func publishSequence(_ run: String, _ range: ClosedRange<Int>) throws {
        for i in range {
            let r = try publish(run, "{\"i\":\(i)}")
            guard r.status == 201 else { throw TestError("publish \(i) to \(run) on \(port): \(r.status) \(r.text)") }
        }
    }
}

extension TestClient {
    /// Reads messages until `count` events (of `run`, when given) arrived; returns their seqs
    /// and checks each carries its own seq as `data.i` (the bytes intact). Any other message
    /// but `subscribed`/`unsubscribed` (a gap, an error) fails.
    func eventSeqs(_ count: Int, run: String? = nil, timeout: Double = 15) throws -> [Int] {
        var seqs: [Int] = []
        let end = Date().addingTimeInterval(timeout)
        while seqs.count < count {
            let left = end.timeIntervalSinceNow
            guard left > 0 else { throw TestError("only \(seqs.count) of \(count) events arrived: \(seqs.suffix(5))") }
            let m = try nextJSON(timeout: left)
            switch m["type"] as? String {
            case "event":
                if let run, m["runId"] as? String != run { continue }
                let seq = m["seq"] as? Int ?? -1
                let i = (m["data"] as? [String: Any])?["i"] as? Int
                guard i == seq else { throw TestError("event seq \(seq) carries data \(String(describing: m["data"]))") }
                seqs.append(seq)
            case "subscribed", "unsubscribed":
                continue
            default:
                throw TestError("unexpected message \(m)")
            }
        }
        return seqs
    }

    /// The next message, which must be `subscribed`; returns its epoch.
    func subscribedEpoch() throws -> String {
        let m = try nextJSON(timeout: 10)
        guard m["type"] as? String == "subscribed", let e = m["epoch"] as? String else { throw TestError("expected subscribed, got \(m)") }
        return e
    }
}

@Suite("Redis: one hub across instances", .serialized)
struct ClusterTests {
    @Test func threeInstancesOneOrderPerRunForEverySubscriber() throws {
        let redis = try RedisServer(); defer { redis.stop() }
        let nodes = try startCluster(3, redis)
        defer { nodes.stopAndCheck() }
        let runs = ["c1", "c2"]
        var subs: [(TestClient, String)] = []
        for n in nodes { for r in runs { subs.append((try n.subscribeRun(r), r)) } }
        for (c, _) in subs { _ = try c.subscribedEpoch() }
        let mux = try nodes[2].subscribeMux(runs)
        let n = 40
        for i in 1...n {
            for r in runs { try nodes[i % 2].publishSequence(r, i...i) } // publishers on A and B, interleaved
        }
        for (c, r) in subs { #expect(try c.eventSeqs(n) == Array(1...n), "subscriber of \(r)") }
        #expect(try mux.eventSeqs(2 * n).sorted() == (1...n).flatMap { [$0, $0] }, "each run's seqs once each")
        // Cluster stats: 7 sockets over 3 instances, 2 runs watched.
        #expect(try eventually(timeout: 5) {
            let s = try nodes[0].stats()
            return s["redisConnections"] as? Int == 7 && s["activeRuns"] as? Int == 2 && s["localConnections"] as? Int == 2
        })
        // History and resume work on an instance that never saw the run's events live.
        let h = try JSONSerialization.jsonObject(with: Data(nodes[1].get("/api/tests/c1/events?since=35").body)) as? [String: Any]
        #expect((h?["events"] as? [[String: Any]])?.compactMap { $0["seq"] as? Int } == Array(36...40))
        #expect(h?["seq"] as? Int == 40)
    }

    @Test func thePublishingInstancesSubscribersGetTheSameBytesAsEveryoneElseOnceEach() throws {
        let redis = try RedisServer(); defer { redis.stop() }
        let nodes = try startCluster(2, redis)
        defer { nodes.stopAndCheck() }
        // Subscribers of one run on the publishing instance (served from Redis's answer) and on
        // the other (served from the pub/sub message); publishes come from both instances.
        let subs = try nodes.map { try $0.subscribeRun("b1") }
        for c in subs { _ = try c.subscribedEpoch() }
        try nodes[0].publishSequence("b1", 1...10)
        #expect(try nodes[0].publish("b1", "[{\"i\":11},{\"i\":12},{\"i\":13}]").status == 201)
        try nodes[1].publishSequence("b1", 14...15)
        try nodes[0].publishSequence("b1", 16...20)
        let texts = try subs.map { c in try (1...20).map { _ in try c.nextText(timeout: 10) } }
        #expect(texts[0] == texts[1], "both instances deliver identical messages")
        let seqs = texts[0].map { (try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["seq"] as? Int ?? -1 }
        #expect(seqs == Array(1...20))
        // Nothing after them: the pub/sub copies of locally delivered events were dropped.
        try nodes[1].publishSequence("b1", 21...21)
        for c in subs { #expect(try c.eventSeqs(1) == [21]) }
    }

    /// An event published through the subscriber's own instance right after the handshake
    /// reaches the subscriber, also while the instance's first read of the run is still in
    /// flight and whichever of the read's answer, the publish's answer and the pub/sub message
    /// comes first. (Through another instance the guarantee starts at the `subscribed` message.)
    @Test func anEventPublishedRightAfterTheHandshakeReachesTheSubscriber() throws {
        let redis = try RedisServer(); defer { redis.stop() }
        let nodes = try startCluster(2, redis)
        defer { nodes.stopAndCheck() }
        var missed: [String] = []
        for i in 0..<40 {
            let run = "early\(i)"
            let sub = try nodes[0].subscribeRun(run) // no wait for "subscribed"
            try nodes[0].publishSequence(run, 1...1)
            if (try? sub.eventSeqs(1, timeout: 5)) != [1] { missed.append(run) }
            let other = try nodes[0].subscribeRun(run + "x")
            _ = try other.subscribedEpoch()
            try nodes[1].publishSequence(run + "x", 1...1)
            if (try? other.eventSeqs(1, timeout: 5)) != [1] { missed.append(run + "x") }
        }
        #expect(missed.isEmpty, "seq 1 did not reach the subscriber of \(missed)")
    }

    @Test func pubsubConnectionKilledMidStreamLosesAndDuplicatesNothing() throws {
        let redis = try RedisServer(); defer { redis.stop() }
        let nodes = try startCluster(2, redis)
        defer { nodes.stopAndCheck() }
        let sub = try nodes[1].subscribeRun("k1")
        _ = try sub.subscribedEpoch()
        let mux = try nodes[1].subscribeMux(["k1"])
        try nodes[0].publishSequence("k1", 1...50)
        let killed = Int(try redis.cli(["CLIENT", "KILL", "TYPE", "pubsub"])) ?? 0
        #expect(killed >= 1, "the subscribed instance's pub/sub connection was killed")
        try nodes[0].publishSequence("k1", 51...100)
        #expect(try sub.eventSeqs(100) == Array(1...100))
        #expect(try mux.eventSeqs(100) == Array(1...100))
        try nodes[0].publishSequence("k1", 101...110)
        #expect(try sub.eventSeqs(10) == Array(101...110))
    }

    @Test func aCatchUpReadCappedBelowWhatWasMissedDeliversWhatItReadThenAGap() throws {
        let redis = try RedisServer(); defer { redis.stop() }
        let a = try startCluster(1, redis)[0]
        let b = try startCluster(1, redis, ["--history-max-events", "10"])[0] // reads at most 10 entries at once
        defer { [a, b].stopAndCheck() }
        let sub = try b.subscribeRun("m1")
        _ = try sub.subscribedEpoch()
        try a.publishSequence("m1", 1...3)
        #expect(try sub.eventSeqs(3) == [1, 2, 3])
        // B misses 4...30 on pub/sub: frozen while its connection is killed and A publishes.
        b.signal(SIGSTOP)
        var frozen = true
        defer { if frozen { b.signal(SIGCONT) } } // never left stopped when a step throws
        try redis.cli(["CLIENT", "KILL", "TYPE", "pubsub"])
        try a.publishSequence("m1", 4...30)
        b.signal(SIGCONT)
        frozen = false
        // Its catch-up read brings 4...13; those reach the subscriber before the gap for the rest.
        #expect(try sub.eventSeqs(10) == Array(4...13))
        let gap = try sub.nextJSON(timeout: 10)
        #expect(gap["type"] as? String == "gap" && gap["from"] as? Int == 14 && gap["to"] as? Int == 30, "\(gap)")
        try a.publishSequence("m1", 31...31)
        #expect(try sub.eventSeqs(1) == [31])
    }

    @Test func redisFrozenMidStreamThenThawedLosesNothing() throws {
        let redis = try RedisServer(); defer { redis.stop() }
        let nodes = try startCluster(2, redis, ["--redis-command-timeout", "20"])
        defer { nodes.stopAndCheck() }
        let sub = try nodes[1].subscribeRun("f1")
        _ = try sub.subscribedEpoch()
        try nodes[0].publishSequence("f1", 1...20)
        redis.pause()
        // A publish sent while Redis is frozen waits for it; readiness says why meanwhile.
        let pending = try TestClient(port: nodes[0].port)
        try pending.send("POST /api/tests/f1/events HTTP/1.1\r\nHost: t\r\nContent-Length: 8\r\n\r\n{\"i\":21}")
        let stalled = try eventually(timeout: 10) {
            let r = try nodes[0].get("/health/ready")
            return r.status == 503 && r.text.contains("no answer")
        }
        redis.resume()
        #expect(stalled)
        #expect(try pending.response(timeout: 10).status == 201)
        try nodes[0].publishSequence("f1", 22...40)
        #expect(try sub.eventSeqs(40) == Array(1...40))
        #expect(try nodes[0].waitReady())
    }

    @Test func unansweredCommandDropsTheConnectionThenItRecovers() throws {
        let redis = try RedisServer(); defer { redis.stop() }
        let node = try startCluster(1, redis, ["--redis-command-timeout", "1"])[0]
        defer { node.stopAndCheck() }
        try node.publishSequence("u1", 1...3)
        redis.pause()
        // The publish waits, the command times out, the connection is aborted: 503, and the
        // answer says the event may have been published.
        let r = try node.publish("u1", "{\"i\":4}")
        #expect(r.status == 503 && r.text.contains("may or may not"))
        // Not ready: between the abort and the reconnect, then once the new link's ping goes unanswered.
        #expect(eventually(timeout: 10) { (try? node.get("/health/ready").status) == 503 })
        redis.resume()
        #expect(try node.waitReady())
        let h = try JSONSerialization.jsonObject(with: Data(node.get("/api/tests/u1/events").body)) as? [String: Any]
        let seq = h?["seq"] as? Int ?? -1
        #expect(seq == 3 || seq == 4, "the frozen publish ran at most once")
        try node.publishSequence("u1", (seq + 1)...(seq + 1))
    }

    @Test func redisRestartWithPersistenceKeepsEpochAndResume() throws {
        let redis = try RedisServer(persistent: true); defer { redis.stop() }
        let nodes = try startCluster(2, redis)
        defer { nodes.stopAndCheck() }
        let sub = try nodes[1].subscribeRun("p1")
        let epoch = try sub.subscribedEpoch()
        try nodes[0].publishSequence("p1", 1...10)
        #expect(try sub.eventSeqs(10) == Array(1...10))
        try redis.restart()
        for n in nodes { #expect(try n.waitReady()) }
        try nodes[0].publishSequence("p1", 11...20)
        #expect(try sub.eventSeqs(10) == Array(11...20)) // no gap, no duplicate
        let late = try nodes[0].subscribeRun("p1", query: "?since=15&epoch=\(epoch)")
        #expect(try late.subscribedEpoch() == epoch)
        #expect(try late.eventSeqs(5) == Array(16...20))
    }

    @Test func redisRestartWithoutPersistenceChangesEpochAndSubscribersGetAGap() throws {
        let redis = try RedisServer(); defer { redis.stop() }
        let nodes = try startCluster(2, redis)
        defer { nodes.stopAndCheck() }
        let sub = try nodes[1].subscribeRun("q1")
        let epoch = try sub.subscribedEpoch()
        try nodes[0].publishSequence("q1", 1...5)
        #expect(try sub.eventSeqs(5) == Array(1...5))
        try redis.restart()
        for n in nodes { #expect(try n.waitReady()) }
        try nodes[0].publishSequence("q1", 1...3) // the run starts over in a new epoch
        let gap = try sub.nextJSON(timeout: 10)
        #expect(gap["type"] as? String == "gap")
        #expect(gap["from"] as? Int == 1)
        let newEpoch = gap["epoch"] as? String
        #expect(newEpoch != nil && newEpoch != epoch)
        #expect(try sub.eventSeqs(3) == Array(1...3))
        #expect(try nodes[0].metric("runwire_redis_epoch_changes_total") + nodes[1].metric("runwire_redis_epoch_changes_total") >= 1)
    }

    @Test func killedInstanceSubscribersResumeElsewhereAndItDropsOutOfStats() throws {
        let redis = try RedisServer(); defer { redis.stop() }
        let nodes = try startCluster(3, redis)
        defer { Array(nodes.prefix(2)).stopAndCheck() } // the third is killed (SIGKILL) on purpose
        let a = try nodes[2].subscribeRun("x1"), b = try nodes[2].subscribeRun("x1")
        _ = try a.subscribedEpoch(); _ = try b.subscribedEpoch()
        try nodes[0].publishSequence("x1", 1...10)
        #expect(try a.eventSeqs(10) == Array(1...10))
        #expect(try eventually(timeout: 5) { try nodes[0].stats()["redisConnections"] as? Int == 2 })
        nodes[2].signal(SIGKILL)
        _ = nodes[2].waitExit()
        try nodes[0].publishSequence("x1", 11...20)
        let moved = try nodes[1].subscribeRun("x1", query: "?since=10")
        _ = try moved.subscribedEpoch()
        #expect(try moved.eventSeqs(10) == Array(11...20))
        #expect(try eventually(timeout: 30) { try nodes[0].stats()["redisConnections"] as? Int == 1 }, "dropped out within 30 s")
    }

    @Test func twoInstancesBehindNginxWithTheRepositoryConfig() throws {
        let redis = try RedisServer(); defer { redis.stop() }
        let nodes = try startCluster(2, redis)
        defer { nodes.stopAndCheck() }
        let nginx = try Nginx(upstreams: nodes.map(\.port)); defer { nginx.stop() }
        #expect(try nginx.waitReady())
        let subs = try (0..<4).map { _ in try nginx.subscribeRun("n1") }
        for s in subs { _ = try s.subscribedEpoch() }
        // least_conn spreads the sockets over both instances.
        #expect(try eventually(timeout: 5) { try nodes.allSatisfy { try $0.stats()["localConnections"] as? Int == 2 } })
        try nginx.publishSequence("n1", 1...30)
        for s in subs { #expect(try s.eventSeqs(30) == Array(1...30)) }
    }

    @Test func useRedisWebSocketFalseKeepsFanOutLocal() throws {
        let redis = try RedisServer(); defer { redis.stop() }
        let nodes = try startCluster(2, redis, ["--use-redis-websocket", "false"])
        defer { nodes.stopAndCheck() }
        let here = try nodes[0].subscribeRun("l1"), there = try nodes[1].subscribeRun("l1")
        _ = try here.subscribedEpoch(); _ = try there.subscribedEpoch()
        try nodes[0].publishSequence("l1", 1...3)
        #expect(try here.eventSeqs(3) == Array(1...3))
        #expect(throws: TestError.self, "the other instance's subscriber gets nothing") { try there.fill(timeout: 0.3) }
        // Stats still come from Redis.
        #expect(try eventually(timeout: 5) { try nodes[1].stats()["redisConnections"] as? Int == 2 })
    }

    @Test func wrongPasswordAndRedisDownGiveDegradedReadinessAnd503() throws {
        let guarded = try RedisServer(password: "right-password"); defer { guarded.stop() }
        let wrong = try ServerProcess(["--port", "0", "--redis-url", "redis://:wrong@127.0.0.1:\(guarded.port)"])
        defer { wrong.stopAndCheck() }
        try wrong.waitListening()
        #expect(try eventually(timeout: 5) { try wrong.get("/health/ready").text.contains("AUTH failed") })
        #expect(try wrong.get("/health").status == 200)
        let refused = try wrong.publish("w1", "{\"a\":1}")
        #expect(refused.status == 503 && refused.header("Retry-After") == "1")
        #expect(refused.text.contains("redis_unavailable"))

        // Redis down at start-up: degraded, then ready once it appears.
        let port = try RedisServer.freePort()
        let early = try ServerProcess(["--port", "0", "--redis-url", "redis://127.0.0.1:\(port)", "--ws-max-subscriptions", "3"])
        defer { early.stopAndCheck() }
        try early.waitListening()
        let r = try early.get("/health/ready")
        #expect(r.status == 503 && r.text.contains("redis"))
        #expect(try early.publish("w1", "{\"a\":1}").status == 503)
        // Subscriptions wait for Redis, and the per-socket limit counts them.
        let mux = try TestClient(port: early.port)
        #expect(try mux.handshake(path: "/api/ws").status == 101)
        for i in 1...5 { try mux.sendJSON("{\"op\":\"subscribe\",\"runId\":\"w\(i)\"}") }
        for i in 4...5 {
            let m = try mux.nextJSON()
            #expect(m["type"] as? String == "error" && m["code"] as? String == "too_many_subscriptions" && m["runId"] as? String == "w\(i)")
        }
        let late = try RedisServer(port: port); defer { late.stop() }
        #expect(try early.waitReady())
        var subscribed = Set<String>()
        for _ in 1...3 {
            let m = try mux.nextJSON(timeout: 10)
            if m["type"] as? String == "subscribed", let id = m["runId"] as? String { subscribed.insert(id) }
        }
        #expect(subscribed == ["w1", "w2", "w3"])
        #expect(try early.publish("w1", "{\"i\":1}").status == 201)
        #expect(try mux.eventSeqs(1) == [1])
    }

    @Test func shutdownWritesThePublishAnswersRedisHasNotGivenYet() throws {
        let redis = try RedisServer(); defer { redis.resume(); redis.stop() }
        let s = try TestServer(["REDIS_URL": redis.url])
        defer { s.stop() }
        #expect(try eventually(timeout: 10) { try s.get("/health/ready").status == 200 })
        let c = try TestClient(port: s.port)
        let ws = try s.subscribeMux([])
        redis.pause() // the publishes reach Redis, which does not answer yet
        try c.send("POST /api/tests/sd/events HTTP/1.1\r\nHost: t\r\nContent-Length: 7\r\n\r\n{\"i\":1}"
                   + "POST /api/tests/sd/events HTTP/1.1\r\nHost: t\r\nContent-Length: 7\r\n\r\n{\"i\":2}")
        try ws.sendJSON("{\"op\":\"publish\",\"runId\":\"sd\",\"data\":{\"i\":3}}")
        #expect(throws: TestError.self, "nothing is answered while Redis is frozen") { try c.fill(timeout: 0.3) }
        s.server.stop() // SIGTERM's path: stop accepting, answer what was started, then close
        #expect(throws: TestError.self, "still waiting for Redis, the connection stays") { try c.fill(timeout: 0.3) }
        redis.resume()
        let a = try c.response(), b = try c.response()
        #expect(a.status == 201 && b.status == 201 && b.header("Connection") == "close")
        #expect(try c.waitForClose(timeout: 5))
        let published = try ws.nextJSON()
        #expect(published["type"] as? String == "published")
        // Two connections: which Redis saw first is the loop's business; each got its own seq.
        let seqs = [a.json["first"] as? Int, b.json["first"] as? Int, published["seq"] as? Int].compactMap { $0 }
        #expect(Set(seqs) == [1, 2, 3] && seqs[0] < seqs[1], "\(seqs)")
        #expect(try ws.readCloseCode(timeout: 5) == 1001)
        #expect(try redis.cli(["HGET", "rw:{sd}:meta", "seq"]) == "3", "each publish ran once")
    }

    @Test func pipelinedRequestsAreAnsweredInOrderAroundRedisRoundTrips() throws {
        let redis = try RedisServer(); defer { redis.stop() }
        let node = try startCluster(1, redis)[0]
        defer { node.stopAndCheck() }
        try redis.cli(["SCRIPT", "FLUSH"]) // the first EVALSHA of each script needs its EVAL fallback: order must hold
        func post(_ body: String) -> String {
            "POST /api/tests/o1/events HTTP/1.1\r\nHost: t\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
        }
        // Chunked bodies are decoded in place: a request that waits behind Redis answers must
        // not be parsed again from a rewritten buffer.
        func chunked(_ body: String) -> String {
            "POST /api/tests/o1/events HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                + "3\r\n\(body.prefix(3))\r\n\(String(body.utf8.count - 3, radix: 16))\r\n\(body.dropFirst(3))\r\n0\r\n\r\n"
        }
        let requestsBefore = try node.metric("runwire_http_requests_total")
        let c = try TestClient(port: node.port)
        try c.send(post("{\"i\":1}") + post("[{\"i\":2},{\"i\":3}]") + "GET /health HTTP/1.1\r\nHost: t\r\n\r\n"
                   + post("{\"i\":") + "GET /api/tests/o1/events?since=1 HTTP/1.1\r\nHost: t\r\n\r\n" + post("{\"i\":4}")
                   + post("{\"i\":y}") + chunked("{\"i\":x}") + chunked("{\"i\":5}")
                   + "GET /api/tests/o1/events?since=3 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n" + post("{\"i\":6}"))
        var got: [String] = []
        for _ in 0..<10 {
            let r = try c.response()
            got.append("\(r.status) \(r.text.prefix(40))")
        }
        #expect(got[0] == "201 {\"runId\":\"o1\",\"first\":1,\"last\":1}")
        #expect(got[1] == "201 {\"runId\":\"o1\",\"first\":2,\"last\":3}")
        #expect(got[2].hasPrefix("200 {\"status\":\"ok\""))
        #expect(got[3].hasPrefix("400 "))
        #expect(got[4].hasPrefix("200 {\"runId\":\"o1\",\"epoch\""))
        #expect(got[5] == "201 {\"runId\":\"o1\",\"first\":4,\"last\":4}")
        #expect(got[6].hasPrefix("400 {\"error\":{\"code\":\"invalid_json\""), "answered after the publish before it")
        #expect(got[7].hasPrefix("400 {\"error\":{\"code\":\"invalid_json\""), "the chunked body's own error: \(got[7])")
        #expect(got[8] == "201 {\"runId\":\"o1\",\"first\":5,\"last\":5}")
        #expect(got[9].hasPrefix("200 "))
        #expect(try c.waitForClose(timeout: 5), "nothing after Connection: close is read")
        let h = try JSONSerialization.jsonObject(with: Data(node.get("/api/tests/o1/events").body)) as? [String: Any]
        #expect(h?["seq"] as? Int == 5, "the publish after Connection: close was not run")
        // Each request counted once, however often it waited: the 10 above, the history GET and
        // this metrics read (counted in its own answer).
        #expect(try node.metric("runwire_http_requests_total") - requestsBefore == 12)
    }

    @Test func runKeysExpireAfterTheLastEventWithTheirTTLSetOncePerInterval() throws {
        let redis = try RedisServer(); defer { redis.stop() }
        // RUN_IDLE_TIMEOUT + RUN_FINISHED_GRACE = 600 s: TTL set at most every 60 s per run.
        let node = try startCluster(1, redis, ["--run-idle-timeout", "540", "--run-finished-grace", "60"])[0]
        defer { node.stopAndCheck() }
        func expires() throws -> Int {
            let line = try redis.cli(["INFO", "commandstats"]).split(whereSeparator: \.isNewline).first { $0.hasPrefix("cmdstat_expire:") }
            return line.flatMap { Int($0.split(separator: "=")[1].split(separator: ",")[0]) } ?? 0
        }
        func pttl(_ key: String) throws -> Int { Int(try redis.cli(["PTTL", key])) ?? -3 }
        try node.publishSequence("t1", 1...10)
        #expect(try expires() == 2, "only the first publish sets the TTL")
        for k in ["rw:{t1}:meta", "rw:{t1}:hist"] { #expect((590_000...600_000).contains(try pttl(k)), "\(k)") }
        #expect(try node.publish("t1", "{\"type\":\"run.finished\"}").status == 201)
        #expect(try expires() == 4)
        for k in ["rw:{t1}:meta", "rw:{t1}:hist"] { #expect((1...60_000).contains(try pttl(k)), "\(k) after run.finished") }
        try node.publishSequence("t1", 12...12) // the next event sets the long TTL again
        #expect(try expires() == 6)
        #expect(try pttl("rw:{t1}:hist") > 590_000)
        // Redis lost the run (its keys deleted): the new epoch gets a TTL although this
        // instance set one a moment ago.
        try redis.cli(["DEL", "rw:{t1}:meta", "rw:{t1}:hist"])
        try node.publishSequence("t1", 1...1)
        for k in ["rw:{t1}:meta", "rw:{t1}:hist"] { #expect((590_000...600_000).contains(try pttl(k)), "\(k) of the new epoch") }
        // Lost again, and this time a subscriber's read starts the new epoch: the history
        // stream the next publish creates gets a TTL too.
        try redis.cli(["DEL", "rw:{t1}:meta", "rw:{t1}:hist"])
        let sub = try node.subscribeRun("t1")
        _ = try sub.subscribedEpoch()
        try node.publishSequence("t1", 1...1)
        #expect(try sub.eventSeqs(1) == [1])
        #expect((590_000...600_000).contains(try pttl("rw:{t1}:hist")), "history stream of an epoch a read started")

        // A 3 s TTL (refreshed every 0.3 s) is kept while events flow, and the keys go once they stop.
        let short = try startCluster(1, redis, ["--run-idle-timeout", "2", "--run-finished-grace", "1"])[0]
        defer { short.stopAndCheck() }
        let before = try expires()
        var i = 0
        #expect(try eventually(timeout: 10) { i += 1; try short.publishSequence("t2", i...i); return try expires() >= before + 6 })
        #expect((1...3000).contains(try pttl("rw:{t2}:meta")))
        #expect(try eventually(timeout: 10) { try redis.cli(["EXISTS", "rw:{t2}:meta", "rw:{t2}:hist"]) == "0" })
    }

    /// SIGTERM with a subscriber connected: the instance sends the cluster-leave script, and
    /// while the socket says goodbye the loop runs on, so its answer arrives and the link is
    /// stopped from inside that reply's callback (it used to crash there: a use-after-free).
    @Test func sigtermWithASubscriberConnectedLeavesTheClusterAndExitsCleanly() throws {
        let redis = try RedisServer(); defer { redis.stop() }
        let node = try startCluster(1, redis)[0]
        let sub = try node.subscribeRun("z1")
        _ = try sub.subscribedEpoch()
        #expect(try eventually(timeout: 5) { try redis.cli(["SCARD", "rw:instances"]) == "1" })
        node.signal(SIGTERM)
        #expect(try sub.readCloseCode(timeout: 5) == 1001)
        try sub.sendFrame(8, [0x03, 0xe9]) // answer the close: the instance may then stop
        node.expectCleanExit()
        #expect(try redis.cli(["SCARD", "rw:instances"]) == "0", "it left the cluster registry")
    }

    @Test func malformedRedisURLStopsStartUpWithOneLine() throws {
        let p = try ServerProcess(["--port", "0", "--redis-url", "redis://127.0.0.1:99999"])
        #expect(p.waitExit() != 0)
        #expect(p.log.contains("REDIS_URL") && p.log.contains("99999"))
    }
}

/// nginx (Debian package) with `perf/nginx/runwire-cluster.conf`, its listen port and
/// upstreams substituted, in a scratch prefix directory.
final class Nginx: ListeningServer {
    let process = Process()
    let port: Int
    let dir: String

    init(upstreams: [Int]) throws {
        port = try RedisServer.freePort()
        dir = NSTemporaryDirectory() + "nginx-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir + "/logs", withIntermediateDirectories: true)
        let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("perf/nginx/runwire-cluster.conf")
        var conf = try String(contentsOf: source, encoding: .utf8)
        conf = conf.replacingOccurrences(of: "listen 127.0.0.1:8080;", with: "listen 127.0.0.1:\(port);")
        conf = conf.replacingOccurrences(of: "127.0.0.1:3001", with: "127.0.0.1:\(upstreams[0])")
        conf = conf.replacingOccurrences(of: "127.0.0.1:3002", with: "127.0.0.1:\(upstreams[1])")
        conf = conf.replacingOccurrences(of: "worker_processes auto;", with: "worker_processes 1;")
        conf = conf.replacingOccurrences(of: "worker_rlimit_nofile 100000;", with: "worker_rlimit_nofile 4096;")
        conf = conf.replacingOccurrences(of: "worker_connections 50000;", with: "worker_connections 1024;")
        try conf.write(toFile: dir + "/nginx.conf", atomically: true, encoding: .utf8)
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/nginx")
        process.arguments = ["-p", dir, "-c", dir + "/nginx.conf", "-g", "daemon off; pid \(dir)/nginx.pid; error_log \(dir)/logs/error.log;"]
        process.standardError = FileHandle.nullDevice
        try process.run()
    }

    func waitReady() throws -> Bool {
        eventually(timeout: 10) { (try? get("/health").status) == 200 }
    }

    func stop() {
        process.terminate()
        process.waitUntilExit()
        try? FileManager.default.removeItem(atPath: dir)
    }
}
