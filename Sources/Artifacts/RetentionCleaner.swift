/// Deletes artifacts older than the retention period, in bounded batches so one pass never
/// holds a worker for long (the server submits batches until `more` is false).
public struct RetentionCleaner: Sendable {
    /// The store it cleans.
    public let store: ArtifactStore
    /// Artifacts older than this many days are deleted.
    public let retentionDays: Int
    /// Most deletions per batch.
    public let batchSize: Int

    /// A cleaner for `store`.
    public init(store: ArtifactStore, retentionDays: Int, batchSize: Int = 500) {
        self.store = store
        self.retentionDays = retentionDays
        self.batchSize = batchSize
    }

    /// One batch: deletes up to `batchSize` expired artifacts, walking the runs in name order
    /// from `cursor` (nil: the first run). Returns how many were deleted, whether more expired
    /// ones remain, and the run to pass as `cursor` to the next batch of the same pass — the
    /// one this batch stopped in, so a pass reads each run's metadata about once, however
    /// many batches it takes.
    public func runBatch(now: Double = ISOTime.now(), from cursor: String? = nil) -> (deleted: Int, more: Bool, cursor: String?) {
        let cutoff = now - Double(retentionDays) * 86400
        var victims: [ArtifactMetadata] = []
        var stoppedIn: String?
        runs: for run in store.runIds().sorted() where cursor.map({ run >= $0 }) ?? true {
            for m in store.list(run) where m.createdAt < cutoff {
                if victims.count == batchSize { stoppedIn = run; break runs }
                victims.append(m)
            }
        }
        var deleted = 0
        for m in victims where store.delete(m.runId, m.id) { deleted += 1 }
        return (deleted, stoppedIn != nil, stoppedIn)
    }
}
