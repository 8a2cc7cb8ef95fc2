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

    /// One batch: deletes up to `batchSize` expired artifacts. Returns how many were deleted
    /// and whether more expired ones remain.
    public func runBatch(now: Double = ISOTime.now()) -> (deleted: Int, more: Bool) {
        let cutoff = now - Double(retentionDays) * 86400
        var victims: [ArtifactMetadata] = []
        var more = false
        store.forEach { m in
            guard m.createdAt < cutoff else { return true }
            if victims.count == batchSize { more = true; return false }
            victims.append(m)
            return true
        }
        var deleted = 0
        for m in victims where store.delete(m.runId, m.id) { deleted += 1 }
        return (deleted, more)
    }
}
