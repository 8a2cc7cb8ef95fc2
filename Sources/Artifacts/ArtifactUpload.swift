import CShimCrypto
#if canImport(Glibc)
import Glibc
#endif

/// One upload being written: bytes stream into a temp file in the run's directory while their
/// SHA-256 is computed; `commit` syncs and renames it into place and then writes the metadata
/// the same way; `abort` leaves nothing behind.
///
/// Not thread-safe: the server runs its steps as a chain of worker-pool jobs, one at a time.
public final class ArtifactUpload: @unchecked Sendable {
    /// The store it writes into.
    public let store: ArtifactStore
    /// The run, id, name and kind the artifact will have.
    public let runId: String
    /// The id chosen for the artifact (fresh, random).
    public let id: String
    /// The uploader's file name.
    public let name: String
    /// The declared kind.
    public let kind: String
    /// Bytes written so far.
    public private(set) var size: Int64 = 0
    private var fd: Int32
    private let tempPath: String
    private var sha: OpaquePointer?
    private var done = false

    init(store: ArtifactStore, runId: String, name: String, kind: String) throws {
        self.store = store
        self.runId = runId
        self.name = name
        self.kind = kind
        id = ArtifactStore.newID()
        tempPath = "\(store.runDir(runId))/\(store.tempName())"
        fd = Glibc.open(tempPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw StoreError.from(errno: errno, "cannot create a file in \(store.runDir(runId))") }
        sha = CShim_sha256_new()
    }

    deinit { abort() }

    /// Appends bytes (hashing them on the way).
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard !done, bytes.count > 0 else { return }
        CShim_sha256_update(sha, bytes.baseAddress, bytes.count)
        try FileIO.writeAll(fd, bytes, "cannot write the upload")
        size += Int64(bytes.count)
    }

    /// Makes the artifact durable and visible; returns its metadata. On failure nothing is left.
    public func commit(now: Double = ISOTime.now()) throws -> ArtifactMetadata {
        precondition(!done, "commit after commit or abort")
        var digest = [UInt8](repeating: 0, count: 32)
        CShim_sha256_final(sha, &digest)
        let data = store.dataPath(runId, id, .identity)
        do {
            guard fsync(fd) == 0 else { throw StoreError.from(errno: errno, "cannot sync the upload") }
            guard rename(tempPath, data) == 0 else { throw StoreError.from(errno: errno, "cannot rename the upload") }
        } catch {
            abort()
            throw error
        }
        close(fd)
        fd = -1
        done = true
        CShim_sha256_free(sha)
        sha = nil
        let meta = ArtifactMetadata(id: id, runId: runId, name: name, kind: kind, size: size, sha256: Hex.encode(digest),
                                    createdAt: now, compression: kind == "trace" ? .pending : .none)
        do {
            try store.writeMetadata(meta)
        } catch {
            unlink(data)
            throw error
        }
        return meta
    }

    /// Drops the upload: closes and removes the temp file (idempotent).
    public func abort() {
        guard !done else { return }
        done = true
        if fd >= 0 { close(fd); fd = -1 }
        unlink(tempPath)
        CShim_sha256_free(sha)
        sha = nil
    }
}
