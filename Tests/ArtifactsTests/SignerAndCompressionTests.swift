import Foundation
import Testing
@testable import Artifacts

@Suite("Signed URLs")
struct SignerTests {
    let signer = URLSigner(secrets: ["new-secret-0123456789", "old-secret-0123456789"])

    @Test func validAlteredExpiredAndRotated() {
        let now = 1_800_000_000.0
        let sig = signer.sign(path: "/files/r1/a1", expires: 1_800_000_100)
        #expect(sig.count == 72 && sig.hasPrefix(signer.currentKeyID))
        #expect(signer.verify(path: "/files/r1/a1", expires: "1800000100", signature: sig, now: now) == .valid)
        #expect(signer.verify(path: "/files/r1/a2", expires: "1800000100", signature: sig, now: now) == .invalid)
        #expect(signer.verify(path: "/files/r1/a1", expires: "1800000101", signature: sig, now: now) == .invalid)
        var altered = Array(sig.utf8); altered[40] = altered[40] == UInt8(ascii: "0") ? UInt8(ascii: "1") : UInt8(ascii: "0")
        #expect(signer.verify(path: "/files/r1/a1", expires: "1800000100", signature: String(decoding: altered, as: UTF8.self), now: now) == .invalid)
        #expect(signer.verify(path: "/files/r1/a1", expires: "1800000100", signature: sig, now: now + 101) == .expired)
        #expect(signer.verify(path: "/files/r1/a1", expires: nil, signature: sig, now: now) == .missing)
        #expect(signer.verify(path: "/files/r1/a1", expires: "1800000100", signature: "zz", now: now) == .invalid)
        // Signed by the previous secret: still valid while it is configured, then not.
        let old = URLSigner(secrets: ["old-secret-0123456789"]).sign(path: "/files/r1/a1", expires: 1_800_000_100)
        #expect(signer.verify(path: "/files/r1/a1", expires: "1800000100", signature: old, now: now) == .valid)
        #expect(URLSigner(secrets: ["new-secret-0123456789"]).verify(path: "/files/r1/a1", expires: "1800000100", signature: old, now: now) == .invalid)
    }

    /// No URL lives longer than the largest SIGNED_URL_TTL (7 days): a genuine signature of an
    /// expiry further ahead (beyond a few minutes of another instance's clock) is refused.
    @Test func aGenuineExpiryBeyondTheLongestLifetimeIsTooFarAhead() {
        let now = 1_800_000_000.0
        func verdict(_ expires: Int64) -> URLSigner.Verdict {
            signer.verify(path: "/files/r1/a1", expires: "\(expires)", signature: signer.sign(path: "/files/r1/a1", expires: expires), now: now)
        }
        let limit = Int64(now) + URLSigner.maxLifetime + URLSigner.clockLeeway
        #expect(URLSigner.maxLifetime == 604_800)
        #expect(verdict(Int64(now) + URLSigner.maxLifetime) == .valid)
        #expect(verdict(limit) == .valid)
        #expect(verdict(limit + 1) == .tooFarAhead)
        #expect(verdict(253_402_300_799) == .tooFarAhead) // 9999-12-31
        #expect(verdict(Int64.max) == .tooFarAhead)
        // The MAC still comes first: an altered far expiry is invalid.
        let sig = signer.sign(path: "/files/r1/a1", expires: 1_800_000_100)
        #expect(signer.verify(path: "/files/r1/a1", expires: "253402300799", signature: sig, now: now) == .invalid)
    }
}

/// Text that compresses well, like a test log or a JSON trace.
func compressibleBytes(_ n: Int) -> [UInt8] {
    var out: [UInt8] = []
    var i = 0
    while out.count < n {
        out += Array("{\"type\":\"action\",\"step\":\(i),\"selector\":\"#login-button\",\"ok\":true}\n".utf8)
        i += 1
    }
    return Array(out.prefix(n))
}

func randomBytes(_ n: Int) -> [UInt8] { (0..<n).map { _ in UInt8.random(in: 0...255) } }

@Suite("Trace compression")
struct CompressionTests {
    @Test func compressibleTraceEndsGzipWithOriginalGone() throws {
        let s = makeStore(); defer { cleanup(s) }
        let bytes = compressibleBytes(300_000)
        let m = try put(s, "r1", bytes, kind: "trace", name: "trace.json")
        #expect(m.compression == .pending)
        let out = TraceCompressor(store: s, level: 9).run(runId: "r1", id: m.id)
        guard case .compressed(let original, let stored) = out else { Issue.record("got \(out)"); return }
        #expect(original == 300_000 && stored < 30_000)
        #expect(files(s, "r1") == ["\(m.id).gz", "\(m.id).json"])
        let meta = try #require(s.metadata("r1", m.id))
        #expect(meta.encoding == .gzip && meta.compression == .done && meta.storedSize == stored && meta.sha256 == m.sha256)
        // The stored gzip inflates to the original (and `gzip -d` agrees it is gzip).
        let opened = try #require(s.open("r1", m.id))
        defer { close(opened.fd) }
        let reader = GzipReader(fd: opened.fd)
        var back: [UInt8] = []
        let buf = UnsafeMutableRawPointer.allocate(byteCount: 10_000, alignment: 1); defer { buf.deallocate() }
        while true { let n = reader.read(into: buf, capacity: 10_000); #expect(n >= 0); if n <= 0 { break }; back += Array(UnsafeRawBufferPointer(start: buf, count: n)) }
        #expect(back == bytes)
        #expect(TraceCompressor(store: s, level: 9).run(runId: "r1", id: m.id) == .skipped)
    }

    @Test func incompressibleTraceKeepsOriginal() throws {
        let s = makeStore(); defer { cleanup(s) }
        let m = try put(s, "r1", randomBytes(100_000), kind: "trace", name: "trace.zip")
        guard case .kept = TraceCompressor(store: s, level: 9).run(runId: "r1", id: m.id) else { Issue.record("not kept"); return }
        #expect(files(s, "r1") == ["\(m.id).data", "\(m.id).json"])
        #expect(s.metadata("r1", m.id)?.compression == .kept)
    }

    @Test func corruptedCompressionLeavesOriginal() throws {
        let s = makeStore(); defer { cleanup(s) }
        let m = try put(s, "r1", compressibleBytes(200_000), kind: "trace")
        guard case .failed(let why) = TraceCompressor(store: s, level: 6, corruptForTesting: true).run(runId: "r1", id: m.id) else {
            Issue.record("not failed"); return
        }
        #expect(why.hasPrefix("verify"))
        #expect(files(s, "r1") == ["\(m.id).data", "\(m.id).json"])
        let meta = s.metadata("r1", m.id)
        #expect(meta?.encoding == .identity && meta?.compression == .failed)
    }

    @Test func interruptedCompressionIsRedoneAfterRecovery() throws {
        let s = makeStore(); defer { cleanup(s) }
        let bytes = compressibleBytes(100_000)
        let m = try put(s, "r1", bytes, kind: "trace")
        // A crash after the rename but before the metadata: a stray .gz beside a pending original.
        _ = FileManager.default.createFile(atPath: s.dataPath("r1", m.id, .gzip), contents: Data([1, 2, 3]))
        #expect(TraceCompressor(store: s, level: 1).run(runId: "r1", id: m.id, shouldStop: { true }) == .cancelled)
        #expect(files(s, "r1") == ["\(m.id).data", "\(m.id).json"])
        guard case .compressed = TraceCompressor(store: s, level: 1).run(runId: "r1", id: m.id) else { Issue.record("not compressed"); return }
        #expect(s.metadata("r1", m.id)?.encoding == .gzip)
    }
}

@Suite("gzip interoperability")
struct GzipInteropTests {
    @Test func systemGzipReadsWhatWeWriteAndWeReadWhatItWrites() throws {
        let dir = NSTemporaryDirectory() + "gz-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let bytes = compressibleBytes(700_000)
        try Data(bytes).write(to: URL(fileURLWithPath: "\(dir)/in"))
        // Ours → gzip -dc.
        let out = open("\(dir)/ours.gz", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        let fd = open("\(dir)/in", O_RDONLY)
        let r = GzipStream.deflate(level: 9, chunk: 4096, input: { read(fd, $0, $1) }, output: { b in _ = write(out, b.baseAddress, b.count) })
        close(fd); close(out)
        guard case .success(let n) = r else { Issue.record("deflate failed"); return }
        #expect(n > 0 && n < 100_000)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", "gzip -dc '\(dir)/ours.gz' > '\(dir)/back' && gzip -9 -c '\(dir)/in' > '\(dir)/theirs.gz'"]
        try p.run()
        let end = Date().addingTimeInterval(20)
        while p.isRunning && Date() < end { usleep(5_000) } // bounded
        if p.isRunning { p.terminate(); Issue.record("gzip did not finish within 20 s"); return }
        #expect(p.terminationStatus == 0)
        #expect(Array(try Data(contentsOf: URL(fileURLWithPath: "\(dir)/back"))) == bytes)
        // gzip -9 → our reader.
        let g = open("\(dir)/theirs.gz", O_RDONLY)
        defer { close(g) }
        let reader = GzipReader(fd: g)
        var back: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 8192)
        while true {
            let k = buf.withUnsafeMutableBytes { reader.read(into: $0.baseAddress!, capacity: $0.count) }
            #expect(k >= 0)
            if k <= 0 { break }
            back += buf[0..<k]
        }
        #expect(back == bytes)
    }
}
