import CShimCrypto
#if canImport(Glibc)
import Glibc
#endif

/// Background gzip of `trace` artifacts (runs on the compression pool).
///
/// Order of steps, each safe to interrupt: gzip `<id>.data` into a temp file and sync it;
/// inflate that copy again and compare size and SHA-256 with the metadata; rename it to
/// `<id>.gz`; write metadata saying `encoding: gzip`; only then unlink `<id>.data`. A crash at
/// any point leaves the original (and metadata still `pending`) or a finished gzip, and
/// `recover` tidies the rest. A copy that saves less than 5 % is dropped (`kept`); one that
/// fails verification is dropped (`failed`). Both keep serving the original.
public struct TraceCompressor: Sendable {
    /// What one job did.
    public enum Outcome: Equatable, Sendable {
        /// Stored as gzip: original and compressed sizes.
        case compressed(original: Int64, stored: Int64)
        /// Saved less than 5 %: the original stays.
        case kept(original: Int64, compressed: Int64)
        /// Something failed; the original stays and is served.
        case failed(String)
        /// Not pending any more, gone, or another process holds its lock.
        case skipped
        /// Stopped by `shouldStop` (shutdown); left pending for the next start.
        case cancelled
    }

    /// The store whose traces it compresses.
    public let store: ArtifactStore
    /// gzip level 1-9.
    public let level: Int32
    /// Test-only fault injection: flip a byte of the compressed copy before verifying it
    /// (`RUNWIRE_TEST_CORRUPT_COMPRESSION=1`), to prove a bad copy never replaces the original.
    public let corruptForTesting: Bool
    static let chunk = 256 * 1024

    /// A compressor at `level`; `corruptForTesting` only from tests (see `corruptForTesting`).
    public init(store: ArtifactStore, level: Int, corruptForTesting: Bool = false) {
        self.store = store
        self.level = Int32(level)
        self.corruptForTesting = corruptForTesting
    }

    /// Compresses one pending artifact; `shouldStop` is polled between chunks.
    public func run(runId: String, id: String, shouldStop: @Sendable () -> Bool = { false }) -> Outcome {
        let lockPath = store.lockPath(runId, id)
        let tombstone = store.tombstonePath(runId, id)
        let lock = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard lock >= 0 else { return .skipped }
        defer { close(lock) }
        guard flock(lock, LOCK_EX | LOCK_NB) == 0 else { return .skipped } // another process has it
        defer { unlink(lockPath) } // still held: a process that opened it before sees `done` after
        guard var meta = store.metadata(runId, id) else { return .skipped }
        recover(meta)
        guard meta.compression == .pending, meta.encoding == .identity else { return .skipped }
        let temp = "\(store.runDir(runId))/\(store.tempName())"
        let result = compress(from: store.dataPath(runId, id, .identity), to: temp, shouldStop: {
            shouldStop() || access(tombstone, F_OK) == 0 // being deleted: let the delete go ahead
        })
        let compressedSize: Int64
        switch result {
        case .success(let n): compressedSize = n
        case .failure(.stopped):
            unlink(temp)
            return .cancelled
        case .failure(.failed(let why)):
            unlink(temp)
            return mark(&meta, .failed, outcome: .failed(why))
        }
        if corruptForTesting { flipMiddleByte(temp, size: compressedSize) }
        if let problem = verify(temp, meta: meta) {
            unlink(temp)
            return mark(&meta, .failed, outcome: .failed(problem))
        }
        if Double(compressedSize) > Double(meta.size) * 0.95 {
            unlink(temp)
            return mark(&meta, .kept, outcome: .kept(original: meta.size, compressed: compressedSize))
        }
        guard rename(temp, store.dataPath(runId, id, .gzip)) == 0 else {
            let e = String(cString: strerror(errno))
            unlink(temp)
            return mark(&meta, .failed, outcome: .failed("rename: \(e)"))
        }
        FileIO.syncDirectory(store.runDir(runId))
        meta.encoding = .gzip
        meta.storedSize = compressedSize
        meta.compression = .done
        do {
            try store.writeMetadata(meta)
        } catch {
            unlink(store.dataPath(runId, id, .gzip)) // metadata still says identity: the original serves
            return .failed("metadata: \(error)")
        }
        unlink(store.dataPath(runId, id, .identity))
        return .compressed(original: meta.size, stored: compressedSize)
    }

    /// Tidies one artifact after a crash: a gzip its metadata `meta` does not name is unfinished
    /// work (removed; the job runs again), an original beside a recorded gzip is removed.
    /// Call with the artifact's lock held (so `meta`, read under it, is current).
    func recover(_ meta: ArtifactMetadata) {
        if meta.encoding == .identity {
            unlink(store.dataPath(meta.runId, meta.id, .gzip))
        } else if access(store.dataPath(meta.runId, meta.id, .gzip), F_OK) == 0 {
            unlink(store.dataPath(meta.runId, meta.id, .identity))
        }
    }

    private func mark(_ meta: inout ArtifactMetadata, _ state: ArtifactMetadata.Compression, outcome: Outcome) -> Outcome {
        meta.compression = state
        try? store.writeMetadata(meta)
        return outcome
    }

    /// Streams `source` through a gzip deflater into `dest` (synced). Returns the bytes written.
    func compress(from source: String, to dest: String, shouldStop: @Sendable () -> Bool) -> Result<Int64, GzipFailure> {
        let inFD = open(source, O_RDONLY | O_CLOEXEC)
        guard inFD >= 0 else { return .failure(.failed("open \(source): \(String(cString: strerror(errno)))")) }
        defer { close(inFD) }
        let outFD = open(dest, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard outFD >= 0 else { return .failure(.failed("create: \(String(cString: strerror(errno)))")) }
        defer { close(outFD) }
        switch GzipStream.deflate(level: level, input: { buf, cap in
            shouldStop() ? -2 : FileIO.read(inFD, buf, cap)
        }, output: { bytes in
            try FileIO.writeAll(outFD, bytes, "write the compressed copy")
        }) {
        case .failure(let e): return .failure(e)
        case .success(let n):
            guard fsync(outFD) == 0 else { return .failure(.failed("sync: \(String(cString: strerror(errno)))")) }
            return .success(n)
        }
    }

    /// nil when `path` inflates to exactly the bytes the metadata describes.
    func verify(_ path: String, meta: ArtifactMetadata) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return "verify: cannot open the compressed copy" }
        defer { close(fd) }
        let reader = GzipReader(fd: fd)
        let sha = CShim_sha256_new()
        defer { CShim_sha256_free(sha) }
        let buf = UnsafeMutableRawPointer.allocate(byteCount: Self.chunk, alignment: 16)
        defer { buf.deallocate() }
        var total: Int64 = 0
        while true {
            let n = reader.read(into: buf, capacity: Self.chunk)
            if n < 0 { return "verify: the compressed copy does not inflate (\(reader.failure ?? "error"))" }
            if n == 0 { break }
            CShim_sha256_update(sha, buf, n)
            total += Int64(n)
        }
        var digest = [UInt8](repeating: 0, count: 32)
        CShim_sha256_final(sha, &digest)
        if total != meta.size { return "verify: inflated to \(total) bytes, expected \(meta.size)" }
        if Hex.encode(digest) != meta.sha256 { return "verify: SHA-256 of the inflated copy differs" }
        return nil
    }

    private func flipMiddleByte(_ path: String, size: Int64) {
        let fd = open(path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { return }
        defer { close(fd) }
        var b: UInt8 = 0
        let at = off_t(size / 2)
        if pread(fd, &b, 1, at) == 1 { b ^= 0x5A; _ = pwrite(fd, &b, 1, at) }
    }
}
