import CShimCrypto
import Foundation
import Testing
@testable import Artifacts
@testable import Server

@Suite("Artifact uploads over loopback")
struct ArtifactUploadTests {
    @Test(arguments: [0, 1, 64 * 1024, 100 << 20])
    func roundTripKeepsEveryByte(size: Int) throws {
        let s = try TestServer(); defer { s.stop() }
        let api = ArtifactAPI(port: s.port)
        let bytes = noise(size, seed: UInt64(size + 1))
        let up = try api.upload("r1", bytes, name: "blob.bin", kind: "video")
        #expect(up.status == 201, "\(up.text)")
        let id = try #require(up.json["id"] as? String)
        #expect(up.json["size"] as? Int == size)
        #expect(up.json["sha256"] as? String == sha256Hex(bytes))
        #expect(Set(up.json.keys) == ["id", "runId", "name", "kind", "size", "sha256", "createdAt"])
        let got = try api.request("GET", try api.signedTarget("r1", id), timeout: 60)
        #expect(got.status == 200 && got.body.count == size)
        #expect(sha256Hex(got.body) == sha256Hex(bytes))
        #expect(storeFiles(s.storage, "r1") == ["\(id).data", "\(id).json"])
    }

    @Test func chunkedUploadsOfOddSizesRoundTrip() throws {
        let s = try TestServer(); defer { s.stop() }
        let api = ArtifactAPI(port: s.port)
        for (n, sizes) in [(1, [1]), (70_000, [1, 3, 4096, 65_537]), (3 << 20, [1 << 20, 7, 300_000])] {
            let bytes = noise(n, seed: UInt64(n))
            let up = try api.upload("r2", bytes, name: "c.bin", chunked: sizes)
            #expect(up.status == 201 && up.json["sha256"] as? String == sha256Hex(bytes), "\(up.text)")
            let got = try api.request("GET", try api.signedTarget("r2", up.id()))
            #expect(got.body == bytes)
        }
    }

    @Test func parallelUploadsAllLand() throws {
        let s = try TestServer(); defer { s.stop() }
        let api = ArtifactAPI(port: s.port)
        let results = Locked<[String: String]>([:])
        DispatchQueue.concurrentPerform(iterations: 8) { i in
            let bytes = noise(2 << 20, seed: UInt64(100 + i))
            if let up = try? api.upload("par", bytes, name: "p\(i).bin", chunked: i % 2 == 0 ? nil : [100_000]), up.status == 201 {
                results.with { $0[(try? up.id()) ?? "?"] = up.json["sha256"] as? String == sha256Hex(bytes) ? "ok" : "bad hash" }
            }
        }
        #expect(results.value.count == 8 && results.value.values.allSatisfy { $0 == "ok" })
        let list = try api.request("GET", "/api/tests/par/artifacts")
        #expect(list.status == 200 && Set(list.jsonArray.compactMap { $0["id"] as? String }) == Set(results.value.keys))
    }

    @Test func twoLoopsServeArtifactsAlike() throws {
        let s = try TestServer(["LOOPS": "2"]); defer { s.stop() }
        let api = ArtifactAPI(port: s.port)
        let ids = Locked<[String: [UInt8]]>([:])
        DispatchQueue.concurrentPerform(iterations: 8) { i in
            let bytes = noise(300_000 + i, seed: UInt64(500 + i))
            if let up = try? api.upload("loops", bytes, name: "l\(i).bin", kind: i % 2 == 0 ? "trace" : "video"), up.status == 201 {
                ids.with { $0[(try? up.id()) ?? "?"] = bytes }
            }
        }
        #expect(ids.value.count == 8)
        for (id, bytes) in ids.value {
            // A link made on one loop verifies on the other (one signing secret per process).
            #expect(try api.request("GET", try api.signedTarget("loops", id)).body == bytes)
        }
        #expect(try api.metric("runwire_artifact_uploads_total") == 8)
        #expect(try api.request("GET", "/api/cleanup/stats").json["totalArtifacts"] as? Int == 8)
    }

    @Test func uploadCutOffMidBodyLeavesNothing() throws {
        let s = try TestServer(); defer { s.stop() }
        do {
            let c = try TestClient(port: s.port)
            try c.send("POST /api/tests/cut/artifacts?name=x.bin HTTP/1.1\r\nHost: t\r\nContent-Length: 10000000\r\n\r\n")
            try c.send(noise(3 << 20))
        } // closed here, 7 MB short
        let c2 = try TestClient(port: s.port)
        try c2.send("POST /api/tests/cut/artifacts?name=y.bin HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n100000\r\n")
        try c2.send(noise(1000))
        #expect(eventually(timeout: 10) { try! s.get("/metrics").text.contains("runwire_artifact_uploads_in_flight 1") })
        shutdown(c2.fd, Int32(SHUT_RDWR)) // a chunked body cut inside a chunk
        #expect(eventually(timeout: 10) { try! s.get("/metrics").text.contains("runwire_artifact_uploads_in_flight 0") })
        #expect(eventually(timeout: 10) { storeFiles(s.storage, "cut").isEmpty })
        #expect(try ArtifactAPI(port: s.port).request("GET", "/api/tests/cut/artifacts").text == "[]")
        #expect(try s.get("/health").status == 200)
    }

    @Test func stalledUploadTimesOutAndLeavesNothing() throws {
        let s = try TestServer(["IDLE_TIMEOUT": "0.5", "SWEEP_INTERVAL": "0.1"]); defer { s.stop() }
        let c = try TestClient(port: s.port)
        try c.send("POST /api/tests/slow/artifacts?name=x HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000\r\n\r\n")
        try c.send(noise(300_000))
        let r = try c.exchange(timeout: 10) // the server gives up after IDLE_TIMEOUT without progress
        #expect(r.status == 408 && r.errorCode == "request_timeout")
        #expect(eventually(timeout: 10) { storeFiles(s.storage, "slow").isEmpty })
    }

    @Test func uploadOverTheLimitIs413AndLeavesNothing() throws {
        let s = try TestServer(["MAX_ARTIFACT_BYTES": "100000"]); defer { s.stop() }
        let api = ArtifactAPI(port: s.port)
        let declared = try api.upload("big", noise(100_001))
        #expect(declared.status == 413 && declared.errorCode == "body_too_large")
        let c = try TestClient(port: s.port)
        try c.send("POST /api/tests/big/artifacts?name=x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
        c.sendIgnoringErrors(Array("10000\r\n".utf8) + noise(65536) + Array("\r\n10000\r\n".utf8) + noise(65536) + Array("\r\n".utf8))
        let r = try c.exchange()
        #expect(r.status == 413 && r.errorCode == "body_too_large" && r.header("Connection") == "close")
        #expect(eventually(timeout: 10) { storeFiles(s.storage, "big").isEmpty })
        #expect(try api.upload("big", noise(100_000)).status == 201) // exactly the limit is fine
    }

    @Test func uploadNeedsKeyNameAndValidIds() throws {
        let s = try TestServer(["API_KEYS": "k1,k2"]); defer { s.stop() }
        var api = ArtifactAPI(port: s.port)
        #expect(try api.upload("r", [1]).status == 401)
        api.apiKey = "nope"
        #expect(try api.upload("r", [1]).status == 403)
        api.apiKey = "k2"
        #expect(try api.upload("..", [1]).errorCode == "invalid_id")
        #expect(try api.upload("r", [1], kind: "pdf").errorCode == "invalid_kind")
        #expect(try api.request("POST", "/api/tests/r/artifacts?kind=log", body: [1]).errorCode == "invalid_name")
        let ok = try api.upload("r", [1], name: "my trace é.zip", kind: "trace")
        #expect(ok.status == 201 && ok.json["name"] as? String == "my trace é.zip")
        let id = try ok.id()
        #expect(try ArtifactAPI(port: s.port).request("DELETE", "/api/tests/r/artifacts/\(id)").status == 401)
        #expect(try api.request("GET", "/api/tests/r/artifacts/\(id)").json["id"] as? String == id)
        #expect(try api.request("DELETE", "/api/tests/r/artifacts/\(id)").status == 204)
        let again = try api.request("DELETE", "/api/tests/r/artifacts/\(id)")
        #expect(again.status == 404, "\(again.status) \(again.text)")
        #expect(try api.request("GET", "/api/tests/r/artifacts/\(id)").errorCode == "artifact_not_found")
        #expect(try api.request("GET", "/api/tests/r/artifacts/a%2Fb").errorCode == "invalid_id")
    }

    @Test func pipelinedRequestsAfterAnUploadAnswerInOrder() throws {
        let s = try TestServer(); defer { s.stop() }
        let c = try TestClient(port: s.port)
        let body = noise(300_000)
        try c.send(Array("POST /api/tests/pipe/artifacts?name=a HTTP/1.1\r\nHost: t\r\nContent-Length: \(body.count)\r\n\r\n".utf8) + body
                   + Array("GET /health HTTP/1.1\r\nHost: t\r\n\r\nGET /api/tests/pipe/artifacts HTTP/1.1\r\nHost: t\r\n\r\n".utf8))
        let first = try c.exchange()
        #expect(first.status == 201)
        #expect(try c.exchange().json["status"] as? String == "ok")
        #expect(try c.exchange().jsonArray.first?["id"] as? String == first.json["id"] as? String)
    }

    @Test func expectContinueIsAnsweredBeforeTheBody() throws {
        let s = try TestServer(); defer { s.stop() }
        let c = try TestClient(port: s.port)
        let body = noise(2 << 20)
        try c.send("POST /api/tests/ec/artifacts?name=e.bin HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: \(body.count)\r\n\r\n")
        while !String(decoding: c.buffer, as: UTF8.self).contains("\r\n\r\n") {
            guard try c.fill(timeout: 5) else {
                throw TestError("connection closed before 100 Continue; got \(String(decoding: c.buffer, as: UTF8.self))")
            }
        }
        #expect(String(decoding: c.buffer, as: UTF8.self).hasPrefix("HTTP/1.1 100 Continue\r\n\r\n"))
        c.buffer.removeFirst("HTTP/1.1 100 Continue\r\n\r\n".utf8.count)
        try c.send(body)
        let r = try c.exchange()
        #expect(r.status == 201 && r.json["sha256"] as? String == sha256Hex(body))
        // Refused before the body (over the limit): no 100 Continue, a 413 and close.
        let d = try TestClient(port: s.port)
        try d.send("POST /api/tests/ec/artifacts?name=e.bin HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: \(1 << 40)\r\n\r\n")
        #expect(try d.exchange().status == 413)
    }

    @Test(.enabled(if: getuid() == 0, "mounting a tmpfs needs root"))
    func fullTmpfsAnswers507AndLeavesNothing() throws {
        // A real full file system (ENOSPC): a 2 MiB tmpfs as the store.
        let mnt = NSTemporaryDirectory() + "runwire-enospc-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: mnt, withIntermediateDirectories: true)
        let mount = try runProcess("/bin/mount", ["-t", "tmpfs", "-o", "size=2m", "tmpfs", mnt], timeout: 10)
        defer {
            _ = try? runProcess("/bin/umount", [mnt], timeout: 10)
            try? FileManager.default.removeItem(atPath: mnt)
        }
        guard mount.status == 0 else { Issue.record("mount failed: \(mount.text)"); return }
        let s = try TestServer(["STORAGE_DIR": mnt + "/store"])
        defer { s.stop() }
        let api = ArtifactAPI(port: s.port)
        let r = try api.upload("full", noise(4 << 20))
        #expect(r.status == 507 && r.errorCode == "insufficient_storage", "\(r.text)")
        #expect(eventually(timeout: 10) { storeFiles(mnt + "/store", "full").isEmpty })
        #expect(try api.upload("full", noise(100_000)).status == 201) // the space came back
        #expect(try s.get("/health").status == 200)
    }

    @Test func fullDiskAnswers507AndLeavesNothing() throws {
        // `ulimit -f 2048` (512-byte blocks: 1 MiB) makes any write past 1 MiB fail with EFBIG,
        // as a full disk fails with ENOSPC.
        let storage = NSTemporaryDirectory() + "runwire-fsize-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: storage) }
        let p = try ServerProcess(["--port", "0"], env: ["STORAGE_DIR": storage], shellPrefix: "ulimit -f 2048;")
        try p.waitListening()
        let api = ArtifactAPI(port: p.port)
        let r = try api.upload("full", noise(4 << 20))
        #expect(r.status == 507 && r.errorCode == "insufficient_storage", "\(r.text)")
        #expect(eventually(timeout: 10) { storeFiles(storage, "full").isEmpty })
        #expect(try api.upload("full", noise(10_000)).status == 201)
        #expect(try api.request("GET", "/health").status == 200)
        p.stopAndCheck()
    }
}

/// A value shared by test threads.
final class Locked<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var v: T
    init(_ v: T) { self.v = v }
    var value: T { lock.lock(); defer { lock.unlock() }; return v }
    func with(_ body: (inout T) -> Void) { lock.lock(); body(&v); lock.unlock() }
}

@Suite("Artifact upload memory")
struct ArtifactUploadMemoryTests {
    /// Resident-memory high-water mark of a process, in bytes (VmHWM from /proc).
    static func peakRSS(_ pid: Int32) -> Int {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") } ?? ""
        return (Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0) * 1024
    }

    @Test func oneGiBUploadStreamsInBoundedMemory() throws {
        let storage = NSTemporaryDirectory() + "runwire-1g-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: storage) }
        let p = try ServerProcess(["--port", "0"], env: ["STORAGE_DIR": storage])
        try p.waitListening()
        let pid = p.process.processIdentifier
        let before = Self.peakRSS(pid)
        let total = 1 << 30
        let block = noise(4 << 20, seed: 9)
        var hash = SHA256Stream()
        let c = try TestClient(port: p.port)
        try c.send("POST /api/tests/big/artifacts?name=huge.bin&kind=video HTTP/1.1\r\nHost: t\r\nContent-Length: \(total)\r\n\r\n")
        var sent = 0
        while sent < total {
            try c.send(block)
            hash.update(block)
            sent += block.count
        }
        let r = try c.exchange(timeout: 120)
        #expect(r.status == 201 && r.json["size"] as? Int == total && r.json["sha256"] as? String == hash.finish())
        let peak = Self.peakRSS(pid)
        #expect(peak - before < 32 << 20, "peak RSS grew by \(peak - before) bytes during a 1 GiB upload")
        p.stopAndCheck()
    }
}

/// Incremental SHA-256 for test data sent in pieces.
struct SHA256Stream {
    private let ctx = CShim_sha256_new()
    mutating func update(_ b: [UInt8]) { CShim_sha256_update(ctx, b, b.count) }
    func finish() -> String {
        var d = [UInt8](repeating: 0, count: 32)
        CShim_sha256_final(ctx, &d)
        CShim_sha256_free(ctx)
        return Hex.encode(d)
    }
}
