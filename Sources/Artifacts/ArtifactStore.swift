#if canImport(Glibc)
import Glibc
#endif

/// The artifact store: plain files under one directory, safe to share between instances.
///
/// Layout: `<root>/artifacts/<runId>/<id>.json` (metadata), `<id>.data` (the original bytes)
/// or `<id>.gz` (a verified gzip of them), `<id>.lock` (held with `flock` while compressing).
/// Every file is written to `.tmp-<host>-<pid>-<random>` in the same directory and renamed
/// into place, so readers see whole files or none. Every method blocks on disk: call them on
/// the worker pool, never on a loop thread.
public final class ArtifactStore: Sendable {
    /// The store directory (`STORAGE_DIR`).
    public let root: String
    /// `<root>/artifacts`.
    public let artifactsDir: String
    /// This process's temp-file prefix: `.tmp-<host>-<pid>-`.
    let tempPrefix: String
    /// Temp files and orphans older than this (seconds) are removed by `removeLeftovers`, whoever
    /// wrote them: a live upload or compression touches its temp file continuously.
    public static let staleAfter = 3600.0

    /// A store rooted at `root` (created on first write).
    public init(root: String) {
        self.root = root
        artifactsDir = root + "/artifacts"
        var host = [CChar](repeating: 0, count: 256)
        gethostname(&host, 255)
        let h = String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self).filter { $0.isASCII && ($0.isLetter || $0.isNumber) }
        tempPrefix = ".tmp-\(h.isEmpty ? "host" : h)-\(getpid())-"
    }

    /// The directory of one run's artifacts.
    public func runDir(_ runId: String) -> String { "\(artifactsDir)/\(runId)" }
    /// The metadata file of an artifact.
    public func metadataPath(_ runId: String, _ id: String) -> String { "\(runDir(runId))/\(id).json" }
    /// The file holding an artifact's bytes in `encoding`.
    public func dataPath(_ runId: String, _ id: String, _ encoding: ArtifactMetadata.Encoding) -> String {
        "\(runDir(runId))/\(id)\(encoding == .gzip ? ".gz" : ".data")"
    }

    /// A fresh temp file name for this process.
    func tempName() -> String { tempPrefix + Hex.random(bytes: 8) }

    /// A new artifact id: 24 random hex digits (matches the id rule).
    public static func newID() -> String { Hex.random(bytes: 12) }

    /// Creates `<root>/artifacts/<runId>` when missing.
    func ensureRunDir(_ runId: String) throws {
        for d in [root, artifactsDir, runDir(runId)] where mkdir(d, 0o755) != 0 && errno != EEXIST {
            throw StoreError.from(errno: errno, "cannot create \(d)")
        }
    }

    // MARK: Reading

    /// One artifact's metadata, or nil.
    public func metadata(_ runId: String, _ id: String) -> ArtifactMetadata? {
        guard let bytes = FileIO.readFile(metadataPath(runId, id)), let m = ArtifactMetadata.parse(bytes),
              m.id == id, m.runId == runId else { return nil }
        return m
    }

    /// A run's artifacts, oldest first.
    public func list(_ runId: String) -> [ArtifactMetadata] {
        FileIO.list(runDir(runId)).compactMap { name -> ArtifactMetadata? in
            guard name.hasSuffix(".json"), !name.hasPrefix(".") else { return nil }
            return metadata(runId, String(name.dropLast(5)))
        }.sorted { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) }
    }

    /// Every run directory name.
    public func runIds() -> [String] { FileIO.list(artifactsDir).filter { !$0.hasPrefix(".") } }

    /// Calls `body` with each artifact of the store until it returns false.
    public func forEach(_ body: (ArtifactMetadata) -> Bool) {
        for run in runIds() {
            for m in list(run) where !body(m) { return }
        }
    }

    /// Opens the stored bytes for reading: the fd (caller closes), the metadata it belongs to and
    /// the file's size. When the file the metadata names is gone (compression swapped it in
    /// between), reads the metadata again: three attempts in all.
    public func open(_ runId: String, _ id: String) -> (fd: Int32, meta: ArtifactMetadata, size: Int64)? {
        for _ in 0..<3 {
            guard let m = metadata(runId, id) else { return nil }
            let fd = Glibc.open(dataPath(runId, id, m.encoding), O_RDONLY | O_CLOEXEC)
            if fd < 0 { continue }
            var st = stat()
            fstat(fd, &st)
            return (fd, m, Int64(st.st_size))
        }
        return nil
    }

    // MARK: Writing

    /// Starts an upload (its temp file exists when this returns).
    public func beginUpload(runId: String, name: String, kind: String) throws -> ArtifactUpload {
        try ensureRunDir(runId)
        do {
            return try ArtifactUpload(store: self, runId: runId, name: name, kind: kind)
        } catch {
            // A delete of the run's last artifact may have removed the (empty) directory between
            // the two calls: make it again, once.
            try ensureRunDir(runId)
            return try ArtifactUpload(store: self, runId: runId, name: name, kind: kind)
        }
    }

    /// Writes metadata atomically.
    public func writeMetadata(_ m: ArtifactMetadata) throws {
        try FileIO.writeAtomically(m.fileJSON, to: metadataPath(m.runId, m.id), dir: runDir(m.runId), tempName: tempName())
    }

    /// The lock file a compression holds (`flock`) while it works on an artifact.
    func lockPath(_ runId: String, _ id: String) -> String { "\(runDir(runId))/\(id).lock" }
    /// Present while an artifact is being deleted: a running compression sees it and stops.
    func tombstonePath(_ runId: String, _ id: String) -> String { "\(runDir(runId))/\(id).deleting" }

    /// Deletes an artifact. False when it did not exist.
    ///
    /// It waits for the artifact's compression lock, so a compression finishing at the same
    /// moment can never write the metadata back after it was removed; the tombstone makes a
    /// running compression stop within one chunk rather than run to its end.
    @discardableResult
    public func delete(_ runId: String, _ id: String) -> Bool {
        let tomb = Glibc.open(tombstonePath(runId, id), O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
        let lock = Glibc.open(lockPath(runId, id), O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        if lock >= 0 { while flock(lock, LOCK_EX) != 0 && errno == EINTR {} }
        let gone = unlink(metadataPath(runId, id)) == 0
        unlink(dataPath(runId, id, .identity))
        unlink(dataPath(runId, id, .gzip))
        if lock >= 0 { unlink(lockPath(runId, id)); close(lock) }
        if tomb >= 0 { close(tomb) }
        unlink(tombstonePath(runId, id))
        if gone { rmdir(runDir(runId)) } // only succeeds once the run has nothing left
        return gone
    }

    // MARK: Housekeeping

    /// Removes what a crash left behind: temp files of this host whose process is gone (at
    /// start-up also this pid's, a previous process with the same pid), any temp file untouched
    /// for `staleAfter` (from any host sharing the store), and data files without metadata that
    /// old. Returns how many files were removed.
    @discardableResult
    public func removeLeftovers(atStartup: Bool, now: Double = ISOTime.now()) -> Int {
        var removed = 0
        let ownHost = tempPrefix.split(separator: "-")[1]
        for run in runIds() {
            let dir = runDir(run)
            let names = FileIO.list(dir)
            let metas = Set(names.filter { $0.hasSuffix(".json") && !$0.hasPrefix(".") }.map { $0.dropLast(5) })
            for name in names {
                let path = "\(dir)/\(name)"
                guard let st = FileIO.info(path) else { continue }
                let stale = now - st.mtime > Self.staleAfter
                var remove = false
                if name.hasPrefix(".tmp-") {
                    let parts = name.split(separator: "-") // .tmp, host, pid, random
                    if parts.count == 4, parts[1] == ownHost, let pid = Int32(parts[2]) {
                        remove = pid == getpid() ? atStartup : (kill(pid, 0) != 0 && errno == ESRCH)
                    }
                    remove = remove || stale
                } else if name.hasSuffix(".data") || name.hasSuffix(".gz") || name.hasSuffix(".lock") || name.hasSuffix(".deleting") {
                    remove = stale && !metas.contains(name.split(separator: ".")[0])
                }
                if remove && unlink(path) == 0 { removed += 1 }
            }
        }
        return removed
    }

    /// Counts for `/api/cleanup/stats`, computed from the directory's metadata files (so every
    /// instance sharing the store reports the same numbers). Bytes are each file's recorded
    /// `storedSize`, written in the same metadata update that names the stored file.
    public func stats(retentionDays: Int, now: Double = ISOTime.now()) -> StoreStats {
        var s = StoreStats()
        let cutoff = now - Double(retentionDays) * 86400
        forEach { m in
            s.totalArtifacts += 1
            s.totalStorageBytes += m.storedSize
            if m.createdAt < cutoff { s.artifactsPendingDeletion += 1 }
            return true
        }
        return s
    }
}

/// The numbers of `/api/cleanup/stats`.
public struct StoreStats: Sendable, Equatable {
    /// Artifacts with metadata.
    public var totalArtifacts = 0
    /// Bytes of their stored files (compressed size for compressed traces).
    public var totalStorageBytes: Int64 = 0
    /// Artifacts past retention, not deleted yet.
    public var artifactsPendingDeletion = 0
    /// Zero counts.
    public init() {}
}
