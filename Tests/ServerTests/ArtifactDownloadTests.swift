import Foundation
import Testing
@testable import Artifacts
@testable import Server

@Suite("Signed artifact downloads over loopback")
struct ArtifactDownloadTests {
    static let secret = "current-secret-0123456789"

    @Test func signedURLValidAlteredExpiredAndRotated() throws {
        let s = try TestServer(["URL_SIGNING_SECRET": Self.secret, "URL_SIGNING_SECRET_PREVIOUS": "previous-secret-0123456789",
                                "PUBLIC_URL": "https://files.example.test/"]); defer { s.stop() }
        let api = ArtifactAPI(port: s.port)
        let a = try api.upload("r1", noise(1000), name: "a.png", kind: "screenshot").id()
        let b = try api.upload("r1", noise(10), name: "b.png").id()
        let link = try api.request("GET", "/api/tests/r1/artifacts/\(a)/download")
        let url = try #require(link.json["url"] as? String)
        #expect(url.hasPrefix("https://files.example.test/files/r1/\(a)?expires="))
        #expect(link.json["expiresIn"] as? Int == 3600)
        let expiresAt = try #require(ISOTime.parse(link.json["expiresAt"] as? String ?? ""))
        #expect(abs(expiresAt - Date().timeIntervalSince1970 - 3600) < 5)
        let target = try api.signedTarget("r1", a)
        #expect(try api.request("GET", target).status == 200)
        let q = URLComponents(string: "http://x" + target)!.queryItems!
        let expires = q.first { $0.name == "expires" }!.value!, sig = q.first { $0.name == "signature" }!.value!
        #expect(sig.range(of: "^[0-9a-f]{72}$", options: .regularExpression) != nil)
        // Altered path, expiry, signature; missing signature.
        #expect(try api.request("GET", "/files/r1/\(b)?expires=\(expires)&signature=\(sig)").errorCode == "invalid_signature")
        #expect(try api.request("GET", "/files/r1/\(a)?expires=\(Int(expires)! + 1)&signature=\(sig)").status == 403)
        let flipped = String(sig.dropLast()) + (sig.last == "0" ? "1" : "0")
        #expect(try api.request("GET", "/files/r1/\(a)?expires=\(expires)&signature=\(flipped)").status == 403)
        #expect(try api.request("GET", "/files/r1/\(a)").errorCode == "signature_required")
        // Expired (genuine signature, past expiry): 410.
        let past = Int64(Date().timeIntervalSince1970) - 10
        let old = URLSigner(secrets: [Self.secret]).sign(path: "/files/r1/\(a)", expires: past)
        let gone = try api.request("GET", "/files/r1/\(a)?expires=\(past)&signature=\(old)")
        #expect(gone.status == 410 && gone.errorCode == "url_expired")
        // Rotation: signed by the previous secret still verifies; an unknown key does not.
        let future = Int64(Date().timeIntervalSince1970) + 600
        let prev = URLSigner(secrets: ["previous-secret-0123456789"]).sign(path: "/files/r1/\(a)", expires: future)
        #expect(try api.request("GET", "/files/r1/\(a)?expires=\(future)&signature=\(prev)").status == 200)
        let stranger = URLSigner(secrets: ["someone-elses-secret-000"]).sign(path: "/files/r1/\(a)", expires: future)
        #expect(try api.request("GET", "/files/r1/\(a)?expires=\(future)&signature=\(stranger)").status == 403)
        // Redirect form.
        let redirect = try api.request("GET", "/api/tests/r1/artifacts/\(a)/download?redirect=1")
        #expect(redirect.status == 302 && redirect.header("Location")?.hasPrefix("https://files.example.test/files/r1/\(a)?") == true)
    }

    /// A genuine signature (the server's own secret) whose `expires` lies further ahead than
    /// any URL the server hands out (SIGNED_URL_TTL is at most 7 days) is refused: 403. It
    /// would otherwise be a link that never expires.
    @Test func aGenuineSignatureExpiringTooFarAheadIsRefused() throws {
        let s = try TestServer(["URL_SIGNING_SECRET": Self.secret, "SIGNED_URL_TTL": "604800"]); defer { s.stop() }
        let api = ArtifactAPI(port: s.port)
        let a = try api.upload("r1", noise(100)).id()
        let signer = URLSigner(secrets: [Self.secret])
        func get(expires: Int64) throws -> Exchange {
            try api.request("GET", "/files/r1/\(a)?expires=\(expires)&signature=\(signer.sign(path: "/files/r1/\(a)", expires: expires))")
        }
        let now = Int64(Date().timeIntervalSince1970)
        for far: Int64 in [253_402_300_799 /* 9999-12-31T23:59:59Z */, now + 604_800 + 3600] {
            let r = try get(expires: far)
            #expect(r.status == 403 && r.errorCode == "invalid_signature", "expires \(far): \(r.status) \(r.text)")
            let message = (r.json["error"] as? [String: Any])?["message"] as? String ?? ""
            #expect(message.contains("more than 7 days ahead"), "\(message)")
            #expect(r.header("Access-Control-Allow-Origin") == "*")
        }
        #expect(try api.request("HEAD", "/files/r1/\(a)?expires=253402300799&signature=\(signer.sign(path: "/files/r1/\(a)", expires: 253_402_300_799))").status == 403)
        // The longest URL the server itself signs still works, and so does one at the limit.
        let link = try api.request("GET", try api.signedTarget("r1", a))
        #expect(link.status == 200 && link.body == noise(100))
        #expect(try get(expires: now + 604_800).status == 200)
    }

    @Test func traversalAttemptsNeverReachOtherFiles() throws {
        let s = try TestServer(); defer { s.stop() }
        let api = ArtifactAPI(port: s.port)
        _ = try api.upload("r1", [1, 2, 3])
        for target in ["/files/../../etc/passwd", "/files/r1/..", "/files/..%2f..%2fetc/passwd", "/files/%2e%2e/passwd",
                       "/files/r1/%2e%2e%2f%2e%2e%2fetc%2fpasswd", "/files//etc/passwd", "/files/r1/a/../../../etc/passwd",
                       "/files/r1/..?expires=1&signature=00", "//etc/passwd", "/files/r1/.%00",
                       "/api/tests/../artifacts", "/api/tests/r1/artifacts/..%2F..%2F..%2Fetc%2Fpasswd/download"] {
            let r = try api.request("GET", target)
            #expect([400, 403, 404].contains(r.status), "\(target) → \(r.status)")
            #expect(!r.text.contains("root:"), "\(target) leaked a file")
        }
        #expect(try api.request("GET", "/files/r1/..").errorCode == "invalid_id")
    }

    @Test func rangesHeadETagAndCORS() throws {
        let s = try TestServer(); defer { s.stop() }
        let api = ArtifactAPI(port: s.port)
        let bytes = noise(10_000)
        let id = try api.upload("r1", bytes, name: "video.webm", kind: "video").id()
        let t = try api.signedTarget("r1", id)
        let whole = try api.request("GET", t)
        #expect(whole.status == 200 && whole.body == bytes && whole.header("Accept-Ranges") == "bytes")
        #expect(whole.header("Content-Type") == "video/webm" && whole.header("Access-Control-Allow-Origin") == "*")
        #expect(whole.header("Content-Disposition")?.contains("filename=\"video.webm\"") == true)
        let first = try api.request("GET", t, headers: ["Range: bytes=0-99"])
        #expect(first.status == 206 && first.body == Array(bytes[0..<100]) && first.header("Content-Range") == "bytes 0-99/10000")
        let last = try api.request("GET", t, headers: ["Range: bytes=-100"])
        #expect(last.status == 206 && last.body == Array(bytes[9900...]) && last.header("Content-Range") == "bytes 9900-9999/10000")
        let open = try api.request("GET", t, headers: ["Range: bytes=9000-"])
        #expect(open.status == 206 && open.body == Array(bytes[9000...]))
        let clipped = try api.request("GET", t, headers: ["Range: bytes=9990-20000"])
        #expect(clipped.status == 206 && clipped.body == Array(bytes[9990...]))
        let bad = try api.request("GET", t, headers: ["Range: bytes=10000-"])
        #expect(bad.status == 416 && bad.header("Content-Range") == "bytes */10000")
        let head = try api.request("HEAD", t)
        #expect(head.status == 200 && head.header("Content-Length") == "10000" && head.body.isEmpty)
        let etag = try #require(whole.header("ETag"))
        let cached = try api.request("GET", t, headers: ["If-None-Match: \(etag)"])
        #expect(cached.status == 304 && cached.body.isEmpty && cached.header("ETag") == etag)
        #expect(try api.request("GET", t, headers: ["If-None-Match: \"other\""]).status == 200)
        let pre = try api.request("OPTIONS", String(t.prefix { $0 != "?" }), headers: ["Origin: https://trace.playwright.dev", "Access-Control-Request-Method: GET"])
        #expect(pre.status == 204 && pre.header("Access-Control-Allow-Origin") == "*" && pre.header("Access-Control-Allow-Methods")?.contains("GET") == true)
        #expect(pre.header("Access-Control-Allow-Headers")?.contains("Range") == true)
        // Keep-alive: several downloads on one connection, answered in order.
        let c = try TestClient(port: s.port)
        try c.send("GET \(t) HTTP/1.1\r\nHost: t\r\nRange: bytes=0-0\r\n\r\nGET /health HTTP/1.1\r\nHost: t\r\n\r\nGET \(t) HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(try c.exchange().body == [bytes[0]])
        #expect(try c.exchange().json["status"] as? String == "ok")
        #expect(try c.exchange().body == bytes)
    }

    /// Range positions with more digits than Int64 holds, over a socket: a first-pos past the
    /// end is 416, a last-pos past it means "to the end" (RFC 9110 §14.1.2, §15.5.17).
    @Test func rangePositionsPastInt64AreUnsatisfiableOrClamped() throws {
        let s = try TestServer(); defer { s.stop() }
        let api = ArtifactAPI(port: s.port)
        let bytes = noise(10_000)
        let t = try api.signedTarget("r1", try api.upload("r1", bytes).id())
        let huge = "99999999999999999999"
        let past = try api.request("GET", t, headers: ["Range: bytes=\(huge)-"])
        #expect(past.status == 416 && past.header("Content-Range") == "bytes */10000" && past.errorCode == "range_not_satisfiable")
        let toEnd = try api.request("GET", t, headers: ["Range: bytes=0-\(huge)"])
        #expect(toEnd.status == 206 && toEnd.header("Content-Range") == "bytes 0-9999/10000" && toEnd.body == bytes)
        let tail = try api.request("GET", t, headers: ["Range: bytes=9000-\(huge)\(huge)"])
        #expect(tail.status == 206 && tail.header("Content-Range") == "bytes 9000-9999/10000" && tail.body == Array(bytes[9000...]))
        let suffix = try api.request("GET", t, headers: ["Range: bytes=-\(huge)"])
        #expect(suffix.status == 206 && suffix.header("Content-Range") == "bytes 0-9999/10000" && suffix.body == bytes)
    }

    /// RFC 9110 §8.6: a 204 has no Content-Length; §15.4.5: a 304 sends none either (it could
    /// only repeat the 200's). The artifact API answers 204 to a preflight and a delete, 304 to
    /// a matching `If-None-Match`.
    @Test func noContentLengthOn204Or304OfRFC9110Section8_6() throws {
        let s = try TestServer(); defer { s.stop() }
        let api = ArtifactAPI(port: s.port)
        let id = try api.upload("cl", noise(1000)).id()
        let t = try api.signedTarget("cl", id)
        let whole = try api.request("GET", t)
        #expect(whole.status == 200 && whole.header("Content-Length") == "1000")
        let etag = try #require(whole.header("ETag"))
        let cached = try api.request("GET", t, headers: ["If-None-Match: \(etag)"])
        #expect(cached.status == 304 && cached.header("Content-Length") == nil, "\(cached.headers)")
        let pre = try api.request("OPTIONS", String(t.prefix { $0 != "?" }), headers: ["Access-Control-Request-Method: GET"])
        #expect(pre.status == 204 && pre.header("Content-Length") == nil, "\(pre.headers)")
        let deleted = try api.request("DELETE", "/api/tests/cl/artifacts/\(id)")
        #expect(deleted.status == 204 && deleted.header("Content-Length") == nil, "\(deleted.headers)")
        // Keep-alive still works without the header: the next answer on the connection is whole.
        let c = try TestClient(port: s.port)
        try c.send("OPTIONS \(t.prefix { $0 != "?" }) HTTP/1.1\r\nHost: t\r\n\r\nGET /health HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(try c.exchange().status == 204)
        #expect(try c.exchange().json["status"] as? String == "ok")
    }

    /// A download reads from disk only the bytes it sends: nothing for HEAD or 304, and for a
    /// range only that range. Seen from the page cache (`mincore`) after evicting the file.
    @Test func readAheadCoversOnlyTheBytesSent() throws {
        let s = try TestServer(); defer { s.stop() }
        let api = ArtifactAPI(port: s.port)
        let bytes = noise(8 << 20)
        let id = try api.upload("ra", bytes).id()
        let t = try api.signedTarget("ra", id)
        let cache = try PageCache("\(s.storage)/artifacts/ra/\(id).data")
        let mib = 1 << 20
        cache.evict()
        try #require(cache.residentPages(0..<bytes.count) == 0, "cannot evict the file from the page cache here")
        let head = try api.request("HEAD", t)
        #expect(head.status == 200 && head.header("Content-Length") == "\(bytes.count)")
        #expect(cache.residentPages(0..<bytes.count) == 0)
        let etag = try #require(head.header("ETag"))
        #expect(try api.request("GET", t, headers: ["If-None-Match: \(etag)"]).status == 304)
        #expect(cache.residentPages(0..<bytes.count) == 0)
        let part = try api.request("GET", t, headers: ["Range: bytes=\(6 * mib)-\(6 * mib + 99)"])
        #expect(part.status == 206 && part.body == Array(bytes[(6 * mib)..<(6 * mib + 100)]))
        #expect(cache.residentPages(0..<(4 * mib)) == 0) // the file's start was not read
        #expect(cache.residentPages((6 * mib)..<(6 * mib + 100)) == 1)
    }

    /// `sendfile` runs on the loop, so it only sends bytes known to be in the page cache: a
    /// file that is not is read in on the worker pool first, each 4 MiB window (counted in
    /// `runwire_artifact_download_disk_reads_total`); a cached one goes out at once (not counted).
    @Test func sendfileNeverWaitsForTheDisk() throws {
        let s = try TestServer(); defer { s.stop() }
        let api = ArtifactAPI(port: s.port)
        let bytes = noise(9 << 20) // windows of 4, 4 and 1 MiB
        let id = try api.upload("cold", bytes).id()
        let t = try api.signedTarget("cold", id)
        let cache = try PageCache("\(s.storage)/artifacts/cold/\(id).data")
        cache.evict()
        try #require(cache.residentPages(0..<bytes.count) == 0, "cannot evict the file from the page cache here")
        let before = try api.metric("runwire_artifact_download_disk_reads_total")
        let cold = try api.request("GET", t)
        #expect(cold.status == 200 && cold.body == bytes)
        let reads = try api.metric("runwire_artifact_download_disk_reads_total") - before
        #expect(reads == 3, "the first window was not cached, so every window is read in first")
        #expect(cache.residentPages(0..<bytes.count) == (bytes.count + PageCache.page - 1) / PageCache.page)
        let warm = try api.request("GET", t)
        #expect(warm.status == 200 && warm.body == bytes)
        #expect(try api.metric("runwire_artifact_download_disk_reads_total") - before == reads, "a cached file is not read again")
    }

    /// A download whose client vanishes, or stops reading, leaves nothing open: the stored
    /// file is closed (also when the client went while a read-in job ran), other requests are
    /// answered meanwhile, and a client that stops reading is cut off after `IDLE_TIMEOUT`.
    @Test func downloadsOfVanishedOrStalledClientsCloseTheirFile() throws {
        let s = try TestServer(["IDLE_TIMEOUT": "1"]); defer { s.stop() }
        let api = ArtifactAPI(port: s.port)
        let bytes = noise(24 << 20) // more than both sockets' buffers hold
        let id = try api.upload("gone", bytes).id()
        let t = try api.signedTarget("gone", id)
        let path = "\(s.storage)/artifacts/gone/\(id).data"
        for _ in 0..<3 {
            try PageCache(path).evict() // so that a read-in job is likely running when the client goes
            let c = try TestClient(port: s.port)
            try c.send("GET \(t) HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(try c.fill(timeout: 5), "the download started")
        } // each client closes here, with unread bytes: a reset
        #expect(eventually(timeout: 5) { openHandles(of: path) == 0 })
        let stalled = try TestClient(port: s.port)
        try stalled.send("GET \(t) HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(eventually { openHandles(of: path) == 1 })
        #expect(try api.request("GET", "/health").status == 200)
        #expect(eventually(timeout: 10) { openHandles(of: path) == 0 }, "the stalled download was cut off")
        #expect(try stalled.waitForClose(timeout: 10))
        // Downloads still work. A part only: with IDLE_TIMEOUT 1 s, a whole 24 MiB read by this
        // test's client could itself be cut off as stalled when the machine is busy.
        let part = try api.request("GET", t, headers: ["Range: bytes=1000000-1999999"])
        #expect(part.status == 206 && part.body == Array(bytes[1_000_000..<2_000_000]))
    }

    /// A cached file whose first 4 MiB window goes out in one loop iteration (a client with a
    /// large receive window) goes on with the next window: the transfer once stopped there,
    /// its budget spent exactly at the window's end, with nothing left to resume it.
    @Test func aCachedDownloadGoesOnPastItsFirstWindow() throws {
        let s = try TestServer(); defer { s.stop() }
        let api = ArtifactAPI(port: s.port)
        let bytes = noise(9 << 20)
        let id = try api.upload("w", bytes).id()
        let t = try api.signedTarget("w", id)
        for _ in 0..<3 {
            let c = try TestClient(port: s.port, receiveBuffer: 32 << 20)
            try c.send("GET \(t) HTTP/1.1\r\nHost: t\r\n\r\n")
            let got = try c.exchange(timeout: 10)
            #expect(got.status == 200 && got.body == bytes)
        }
    }

    @Test func compressedTraceServedAsGzipOrInflated() throws {
        let s = try TestServer(["TRACE_COMPRESSION_LEVEL": "6"]); defer { s.stop() }
        let api = ArtifactAPI(port: s.port)
        let bytes = traceText(3 << 20)
        let id = try api.upload("t1", bytes, name: "trace.json", kind: "trace").id()
        #expect(eventually(timeout: 30) { storeFiles(s.storage, "t1") == ["\(id).gz", "\(id).json"] })
        let t = try api.signedTarget("t1", id)
        let gz = try api.request("GET", t, headers: ["Accept-Encoding: gzip, deflate"])
        #expect(gz.status == 200 && gz.header("Content-Encoding") == "gzip" && gz.header("Vary") == "Accept-Encoding")
        #expect(gz.body.count < bytes.count / 5)
        #expect(gunzip(gz.body) == bytes)
        let plain = try api.request("GET", t)
        #expect(plain.status == 200 && plain.header("Content-Encoding") == nil && plain.body == bytes)
        let refused = try api.request("GET", t, headers: ["Accept-Encoding: gzip;q=0, identity"])
        #expect(refused.header("Content-Encoding") == nil && refused.body == bytes)
        let part = try api.request("GET", t, headers: ["Range: bytes=1000000-1000999", "Accept-Encoding: gzip"])
        #expect(part.status == 206 && part.header("Content-Encoding") == nil && part.body == Array(bytes[1_000_000..<1_001_000]))
        #expect(gz.header("ETag") != plain.header("ETag"))
        // The API still reports the original.
        let meta = try api.request("GET", "/api/tests/t1/artifacts/\(id)").json
        #expect(meta["size"] as? Int == bytes.count && meta["sha256"] as? String == sha256Hex(bytes))
    }
}

/// How many of this process's file descriptors are open on `path` (the in-process server's
/// included).
func openHandles(of path: String) -> Int {
    let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
    return fds.filter { (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\($0)")) == path }.count
}

/// Which pages of a file are in the page cache (`mincore` on a mapping that is never touched).
final class PageCache {
    let fd: Int32
    let size: Int
    let map: UnsafeMutableRawPointer
    static let page = Int(sysconf(Int32(_SC_PAGESIZE)))

    init(_ path: String) throws {
        fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw TestError("open \(path): \(errno)") }
        var st = stat()
        fstat(fd, &st)
        size = Int(st.st_size)
        guard let m = mmap(nil, size, PROT_READ, MAP_SHARED, fd, 0), m != MAP_FAILED else {
            close(fd)
            throw TestError("mmap \(path): \(errno)")
        }
        map = m
    }

    deinit {
        munmap(map, size)
        close(fd)
    }

    /// Drops the file's clean pages from the cache.
    func evict() { _ = posix_fadvise(fd, 0, 0, Int32(POSIX_FADV_DONTNEED)) }

    /// How many pages overlapping `bytes` are cached.
    func residentPages(_ bytes: Range<Int>) -> Int {
        let first = bytes.lowerBound / Self.page, end = (bytes.upperBound + Self.page - 1) / Self.page
        var vec = [UInt8](repeating: 0, count: end - first)
        guard mincore(map + first * Self.page, (end - first) * Self.page, &vec) == 0 else { return -1 }
        return vec.reduce(0) { $0 + Int($1 & 1) }
    }
}
