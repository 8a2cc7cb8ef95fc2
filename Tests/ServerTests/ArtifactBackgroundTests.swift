import Foundation
import RedisServerSupport
import Testing
@testable import Artifacts
@testable import Server

@Suite("Trace compression, retention and shutdown with real processes")
struct ArtifactBackgroundTests {
    @Test func corruptedCompressionLeavesTheOriginalServed() throws {
        let storage = NSTemporaryDirectory() + "runwire-corrupt-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: storage) }
        let p = try ServerProcess(["--port", "0"], env: ["STORAGE_DIR": storage, "RUNWIRE_TEST_CORRUPT_COMPRESSION": "1"])
        try p.waitListening()
        let api = ArtifactAPI(port: p.port)
        let bytes = traceText(1 << 20)
        let id = try api.upload("c1", bytes, name: "trace.json", kind: "trace").id()
        #expect(eventually(timeout: 20) { (try? api.metric("runwire_trace_compressions_total{outcome=\"failed\"}")) == 1 })
        #expect(storeFiles(storage, "c1") == ["\(id).data", "\(id).json"])
        let got = try api.request("GET", try api.signedTarget("c1", id), headers: ["Accept-Encoding: gzip"])
        #expect(got.status == 200 && got.header("Content-Encoding") == nil && got.body == bytes)
        p.stopAndCheck()
        #expect(p.log.contains("trace compression failed"))
    }

    @Test func killedMidCompressionFinishesAfterRestart() throws {
        let storage = NSTemporaryDirectory() + "runwire-kill-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: storage) }
        let env = ["STORAGE_DIR": storage, "COMPRESSION_THREADS": "1", "TRACE_COMPRESSION_LEVEL": "9"]
        let bytes = traceText(48 << 20)
        var id = ""
        do {
            let p = try ServerProcess(["--port", "0"], env: env)
            try p.waitListening()
            id = try ArtifactAPI(port: p.port).upload("k1", bytes, name: "trace.json", kind: "trace").id()
            // The compressed copy is being written (its temp file exists): kill now.
            #expect(eventually(timeout: 20) { storeFiles(storage, "k1").contains { $0.hasPrefix(".tmp-") } })
            p.signal(SIGKILL)
            _ = p.waitExit()
        }
        #expect(storeFiles(storage, "k1").contains("\(id).data"))
        let q = try ServerProcess(["--port", "0"], env: env)
        try q.waitListening()
        #expect(eventually(timeout: 60) { storeFiles(storage, "k1") == ["\(id).gz", "\(id).json"] })
        let api = ArtifactAPI(port: q.port)
        let got = try api.request("GET", try api.signedTarget("k1", id), timeout: 60)
        #expect(got.body.count == bytes.count && sha256Hex(got.body) == sha256Hex(bytes))
        q.stopAndCheck()
        #expect(q.log.contains("compressionsResumed=1") || q.log.contains("compressionsResumed\":\"1"))
    }

    @Test func cleanerDeletesOldArtifactsAndStatsFollow() throws {
        let storage = NSTemporaryDirectory() + "runwire-clean-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: storage) }
        // The default interval (24 h): each instance runs one pass right after start-up and no
        // other during the test, so nothing races the counts taken between passes.
        let settings = ["STORAGE_DIR": storage, "ARTIFACT_RETENTION_DAYS": "7"]
        var ids: [String] = []
        do {
            let s = try TestServer(settings); defer { s.stop() }
            let api = ArtifactAPI(port: s.port)
            for i in 0..<3 { ids.append(try api.upload("old", noise(1000 + i)).id()) }
            #expect(eventually(timeout: 15) { (try? api.metric("runwire_cleanup_runs_total")) == 1 })
            let stats = try api.request("GET", "/api/cleanup/stats")
            #expect(stats.text.range(of: #"^\{"retentionDays":7,"artifactsPendingDeletion":0,"totalArtifacts":3,"totalStorageBytes":3003,"totalStorageMB":"0\.00"\}$"#,
                                     options: .regularExpression) != nil, "\(stats.text)")
            try backdate(storage, "old", ids[0], days: 8)
            try backdate(storage, "old", ids[1], days: 30)
            #expect(try api.request("GET", "/api/cleanup/stats").json["artifactsPendingDeletion"] as? Int == 2)
            #expect(try api.metric("runwire_cleanup_deleted_total") == 0)
        }
        // The next pass (a new instance's start-up pass on the same store) deletes both.
        let s = try TestServer(settings); defer { s.stop() }
        let api = ArtifactAPI(port: s.port)
        #expect(eventually(timeout: 15) { (try? api.request("GET", "/api/cleanup/stats").json["totalArtifacts"] as? Int) == 1 })
        let after = try api.request("GET", "/api/cleanup/stats").json
        #expect(after["artifactsPendingDeletion"] as? Int == 0 && after["totalStorageBytes"] as? Int == 1002)
        #expect(try api.request("GET", "/api/tests/old/artifacts").jsonArray.map { $0["id"] as? String } == [ids[2]])
        #expect(try api.metric("runwire_cleanup_deleted_total") == 2)
        // A burst of stats requests shares scans and every answer is current.
        let answers = Locked<[Int]>([])
        DispatchQueue.concurrentPerform(iterations: 16) { i in
            if i == 8, let up = try? api.upload("old", noise(10)) { _ = up } // a write in the middle of the burst
            if let n = try? api.request("GET", "/api/cleanup/stats").json["totalArtifacts"] as? Int { answers.with { $0.append(n) } }
        }
        #expect(answers.value.count == 16 && answers.value.allSatisfy { $0 == 1 || $0 == 2 })
        #expect(try api.request("GET", "/api/cleanup/stats").json["totalArtifacts"] as? Int == 2)
    }

    @Test func twoInstancesWithRedisTakeTurnsOnTheCleanupLock() throws {
        let redis = try RedisServer(password: "cleanup-pw"); defer { redis.stop() } // the cleaner AUTHs too
        let storage = NSTemporaryDirectory() + "runwire-shared-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: storage) }
        // Someone else holds the lock: neither instance may clean.
        #expect(try redis.cli(["SET", "runwire:cleanup:lock", "someone-else", "PX", "60000"]) == "OK")
        let env = ["STORAGE_DIR": storage, "REDIS_URL": redis.url, "CLEANUP_INTERVAL_HOURS": "0.001"]
        let a = try TestServer(env), b = try TestServer(env)
        defer { a.stop(); b.stop() }
        let apiA = ArtifactAPI(port: a.port), apiB = ArtifactAPI(port: b.port)
        var old: [String] = []
        for i in 0..<4 { old.append(try apiA.upload("shared", noise(500 + i)).id()) }
        for id in old { try backdate(storage, "shared", id, days: 40) }
        #expect(eventually(timeout: 15) { ((try? apiA.metric("runwire_cleanup_skipped_total")) ?? 0) >= 1 && ((try? apiB.metric("runwire_cleanup_skipped_total")) ?? 0) >= 1 })
        #expect(try apiB.request("GET", "/api/cleanup/stats").json["artifactsPendingDeletion"] as? Int == 4)
        #expect(try redis.cli(["GET", "runwire:cleanup:lock"]) == "someone-else") // never released by them
        // Lock free: one of them cleans; both report the same shared numbers.
        #expect(try redis.cli(["DEL", "runwire:cleanup:lock"]) == "1")
        #expect(eventually(timeout: 20) { (try? apiB.request("GET", "/api/cleanup/stats").json["totalArtifacts"] as? Int) == 0 })
        #expect(try apiA.request("GET", "/api/cleanup/stats").text == apiB.request("GET", "/api/cleanup/stats").text)
        let deleted = try apiA.metric("runwire_cleanup_deleted_total") + apiB.metric("runwire_cleanup_deleted_total")
        #expect(deleted == 4)
        // Every pass released its own lock (token-checked): the key is gone between passes.
        #expect(eventually(timeout: 10) { (try? redis.cli(["EXISTS", "runwire:cleanup:lock"])) == "0" })
    }

    @Test func cleanerWithARefusedRedisPasswordSkipsPassesWithoutBlamingALockHolder() throws {
        let redis = try RedisServer(password: "right-pw"); defer { redis.stop() }
        let p = try ServerProcess(["--port", "0"], env: ["REDIS_URL": "redis://:wrong-pw@127.0.0.1:\(redis.port)",
                                                        "CLEANUP_INTERVAL_HOURS": "0.001"]) // 3.6 s
        try p.waitListening()
        // Two intervals go by, each leaving one line of the cleaner ("cleanup…") in the log.
        #expect(eventually(timeout: 20) {
            p.readSome(until: Date().addingTimeInterval(0.05))
            return p.log.components(separatedBy: ": cleanup").count - 1 >= 2
        }, "\(p.log)")
        let api = ArtifactAPI(port: p.port)
        // Nobody holds the lock: the passes did not run because Redis refused us, and no
        // command went out on a connection that never authenticated.
        #expect(try api.metric("runwire_cleanup_skipped_total") == 0 && api.metric("runwire_cleanup_runs_total") == 0)
        #expect(!p.log.contains("another instance holds the lock"), "\(p.log)")
        #expect(p.log.split(separator: "\n").contains { $0.contains("cleanup: Redis unavailable; skipping this pass") && $0.contains("AUTH") },
                "the cleaner's own line says Redis refused AUTH: \(p.log)")
        #expect(try redis.cli(["EXISTS", "runwire:cleanup:lock"]) == "0")
        p.stopAndCheck()
    }

    @Test func artifactRequestsQueueBehindRedisAnswersInOrder() throws {
        let redis = try RedisServer(); defer { redis.stop() }
        let s = try TestServer(["REDIS_URL": redis.url]); defer { s.stop() }
        #expect(eventually(timeout: 10) { (try? s.get("/health/ready").status) == 200 })
        let c = try TestClient(port: s.port)
        let event = "{\"type\":\"log\"}"
        let body = noise(5000)
        try c.send(Array(("POST /api/tests/q/events HTTP/1.1\r\nHost: t\r\nContent-Length: \(event.utf8.count)\r\n\r\n\(event)"
                          + "GET /api/tests/q/artifacts HTTP/1.1\r\nHost: t\r\n\r\n"
                          + "POST /api/tests/q/artifacts?name=a.bin HTTP/1.1\r\nHost: t\r\nContent-Length: \(body.count)\r\n\r\n").utf8)
                   + body + Array("POST /api/tests/q/events HTTP/1.1\r\nHost: t\r\nContent-Length: \(event.utf8.count)\r\n\r\n\(event)".utf8))
        let first = try c.exchange()
        #expect(first.status == 201 && first.json["first"] as? Int == 1)
        let list = try c.exchange()
        #expect(list.status == 200 && list.text == "[]")
        let up = try c.exchange()
        #expect(up.status == 201 && up.json["sha256"] as? String == sha256Hex(body))
        let second = try c.exchange()
        #expect(second.status == 201 && second.json["first"] as? Int == 2)
    }

    @Test func sigtermLetsARunningCompressionFinish() throws {
        let storage = NSTemporaryDirectory() + "runwire-termgz-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: storage) }
        let p = try ServerProcess(["--port", "0"], env: ["STORAGE_DIR": storage, "COMPRESSION_THREADS": "1"])
        try p.waitListening()
        let bytes = traceText(12 << 20)
        let id = try ArtifactAPI(port: p.port).upload("tg", bytes, name: "trace.json", kind: "trace").id()
        // The compressed copy is being written (level 9: about 0.6 s of deflate for 12 MiB).
        #expect(eventually(timeout: 20) { storeFiles(storage, "tg").contains { $0.hasPrefix(".tmp-") } }, "\(storeFiles(storage, "tg"))")
        p.stopAndCheck()
        // Finished within the grace period: stored compressed, original gone, nothing left over,
        // and it finished after the shutdown began (the two overlapped).
        #expect(storeFiles(storage, "tg") == ["\(id).gz", "\(id).json"])
        let stopping = try #require(p.log.range(of: ": stopping"), "\(p.log)")
        let compressed = try #require(p.log.range(of: "trace compressed"), "\(p.log)")
        #expect(stopping.lowerBound < compressed.lowerBound, "\(p.log)")
    }

    @Test func sigtermLetsAnUploadInProgressFinish() throws {
        let storage = NSTemporaryDirectory() + "runwire-term-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: storage) }
        let p = try ServerProcess(["--port", "0"], env: ["STORAGE_DIR": storage])
        try p.waitListening()
        let bytes = noise(8 << 20)
        let c = try TestClient(port: p.port)
        try c.send("POST /api/tests/term/artifacts?name=late.bin HTTP/1.1\r\nHost: t\r\nContent-Length: \(bytes.count)\r\n\r\n")
        try c.send(Array(bytes[0..<(4 << 20)]))
        p.signal(SIGTERM)
        #expect(eventually(timeout: 5) { p.readSome(until: Date().addingTimeInterval(0.05)); return p.log.contains("stopping") })
        try c.send(Array(bytes[(4 << 20)...]))
        let r = try c.exchange()
        #expect(r.status == 201 && r.json["sha256"] as? String == sha256Hex(bytes) && r.header("Connection") == "close")
        p.expectCleanExit()
        #expect(storeFiles(storage, "term").count == 2)
    }
}
