import Artifacts
import Logging
import Metrics
import Reactor
import RedisBridge
#if canImport(Glibc)
import Glibc
#endif

/// A flag set by one thread and polled by others (compression jobs check it between chunks).
final class StopFlag: @unchecked Sendable {
    private let lock = Lock()
    private var value = false
    var isSet: Bool { lock.withLock { value } }
    func set() { lock.withLock { value = true } }
}

/// What the artifact services of all loops in a process share (thread-safe): the URL
/// signer (one secret, random per start when unset), the compression pool and its stop flag.
final class ArtifactShared: Sendable {
    let signer: URLSigner
    /// gzip of traces, COMPRESSION_THREADS threads of its own so a big trace never delays uploads.
    let compressionPool: WorkerPool
    let compressor: TraceCompressor
    /// Set at shutdown once the grace period is over: running compressions stop (left pending).
    let stopping = StopFlag()

    init(config: Config, logger: Logger) {
        var secrets = [config.urlSigningSecret ?? Hex.random(bytes: 32)]
        secrets += config.urlSigningSecretsPrevious
        signer = URLSigner(secrets: secrets)
        compressionPool = WorkerPool(threads: config.compressionThreads)
        // Test-only fault injection, read here and nowhere else (README: "Trace compression").
        let corrupt = getenv("RUNWIRE_TEST_CORRUPT_COMPRESSION").map { String(cString: $0) == "1" } ?? false
        compressor = TraceCompressor(store: ArtifactStore(root: config.storageDir), level: config.traceCompressionLevel,
                                     corruptForTesting: corrupt)
        if corrupt { logger.warning("RUNWIRE_TEST_CORRUPT_COMPRESSION=1: every trace compression is corrupted on purpose (tests only)") }
    }

    /// After every loop ended: stops compressions and joins the compression pool.
    func shutDown() {
        stopping.set()
        compressionPool.shutdown()
    }
}

/// The artifact side of one loop: the store, the signer, the retention cleaner's schedule (first
/// loop only) and the counters. Confined to its loop's thread (disk work goes to the worker
/// pool, gzip to the compression pool; results come back through the loop's mailbox).
final class ArtifactService: @unchecked Sendable {
    let store: ArtifactStore
    let shared: ArtifactShared
    var signer: URLSigner { shared.signer }
    var stopping: StopFlag { shared.stopping }
    let loop: EventLoop
    /// Blocking disk I/O (uploads, listings, stats, the cleaner).
    let disk: WorkerPool
    let logger: Logger
    let publicURL: String
    let signedURLTTL: Int
    let maxBytes: Int64
    let retentionDays: Int

    let uploadsInFlight: Gauge
    let compressionsInFlight: Gauge
    let uploadsTotal: Counter
    let uploadBytesTotal: Counter
    /// Download windows read in on the worker pool because they were not in the page cache.
    let downloadDiskReads: Counter
    private let compressed: Counter, kept: Counter, failed: Counter
    var cleaner: CleanerSchedule?

    /// True while uploads or compressions are running (shutdown waits for them).
    var busy: Bool { uploadsInFlight.value > 0 || compressionsInFlight.value > 0 }

    /// `runsCleaner`: this loop runs the retention cleaner, its lock taken through `redis`
    /// (this loop's link; nil without Redis).
    init(config: Config, shared: ArtifactShared, loop: EventLoop, disk: WorkerPool, logger: Logger, runsCleaner: Bool,
         redis: RedisLink?, metrics m: MetricsRegistry) {
        uploadsTotal = m.counter("runwire_artifact_uploads_total", help: "Artifacts stored by this instance.")
        uploadBytesTotal = m.counter("runwire_artifact_upload_bytes_total", help: "Bytes of artifacts stored by this instance.")
        uploadsInFlight = m.gauge("runwire_artifact_uploads_in_flight", help: "Uploads being received.")
        downloadDiskReads = m.counter("runwire_artifact_download_disk_reads_total",
                                      help: "Download windows (up to 4 MiB) read in on the worker pool because they were not in the page cache.")
        compressionsInFlight = m.gauge("runwire_trace_compressions_in_flight", help: "Trace compressions queued or running.")
        let outcomes = "Trace compressions finished, by outcome."
        compressed = m.counter("runwire_trace_compressions_total", help: outcomes, labels: "outcome=\"compressed\"")
        failed = m.counter("runwire_trace_compressions_total", help: outcomes, labels: "outcome=\"failed\"")
        kept = m.counter("runwire_trace_compressions_total", help: outcomes, labels: "outcome=\"kept\"")
        store = ArtifactStore(root: config.storageDir)
        self.shared = shared
        self.loop = loop
        self.disk = disk
        self.logger = logger
        publicURL = config.publicURL
        signedURLTTL = config.signedURLTTL
        maxBytes = config.maxArtifactBytes
        retentionDays = config.artifactRetentionDays
        if config.enableArtifactCleanup && runsCleaner {
            cleaner = CleanerSchedule(service: self, config: config, redis: redis, metrics: m)
        }
    }

    /// Start-up: removes crash leftovers, then queues every trace still pending compression.
    func startUp() {
        let store = self.store
        disk.submit(on: loop, { () -> (Int, [ArtifactMetadata]) in
            let removed = store.removeLeftovers(atStartup: true)
            var pending: [ArtifactMetadata] = []
            store.forEach { m in
                if m.compression == .pending { pending.append(m) }
                return true
            }
            return (removed, pending)
        }) { [self] removed, pending in
            if removed > 0 || !pending.isEmpty {
                logger.info("artifact store recovered", metadata: ["leftoversRemoved": "\(removed)", "compressionsResumed": "\(pending.count)"])
            }
            for m in pending { compress(m) }
        }
    }

    /// Queues background compression of a trace.
    func compress(_ m: ArtifactMetadata) {
        compressionsInFlight.add(1)
        let compressor = shared.compressor, stopping = shared.stopping
        let runId = m.runId, id = m.id
        shared.compressionPool.submit(on: loop, { compressor.run(runId: runId, id: id, shouldStop: { stopping.isSet }) }) { [self] outcome in
            compressionsInFlight.add(-1)
            switch outcome {
            case .compressed(let original, let stored):
                compressed.add()
                logger.info("trace compressed", metadata: ["runId": "\(runId)", "id": "\(id)", "size": "\(original)", "stored": "\(stored)"])
            case .kept(let original, let compressed):
                kept.add()
                logger.info("trace kept uncompressed (saves < 5 %)", metadata: ["runId": "\(runId)", "id": "\(id)", "size": "\(original)", "gzip": "\(compressed)"])
            case .failed(let why):
                failed.add()
                logger.error("trace compression failed; the original stays", metadata: ["runId": "\(runId)", "id": "\(id)", "reason": "\(why)"])
            case .skipped, .cancelled:
                break
            }
        }
    }

    /// A finished upload: counts it and queues a trace for compression.
    func uploaded(_ m: ArtifactMetadata) {
        uploadsTotal.add()
        uploadBytesTotal.add(Int(m.size))
        if m.compression == .pending { compress(m) }
    }

    /// The signed URL for an artifact and its expiry (unix seconds).
    func signedURL(runId: String, id: String, now: Double) -> (url: String, expires: Int64) {
        let expires = Int64(now) + Int64(signedURLTTL)
        let path = "/files/\(runId)/\(id)"
        return ("\(publicURL)\(path)?expires=\(expires)&signature=\(signer.sign(path: path, expires: expires))", expires)
    }

    /// Called on every sweep tick.
    func sweep(now: Double) { cleaner?.tick(now: now) }


    private var statsScanning = false
    private var statsWaiting: [(StoreStats) -> Void] = []
    private var statsNext: [(StoreStats) -> Void] = []

    /// Counts the store for `/api/cleanup/stats`. Requests that arrive while a scan runs share
    /// the next scan (never the running one, which may have started before their own writes),
    /// so a burst of dashboards costs two directory scans, not one each.
    func stats(_ done: @escaping (StoreStats) -> Void) {
        if statsScanning { statsNext.append(done); return }
        statsWaiting.append(done)
        statsScanning = true
        let store = self.store, days = retentionDays
        let box = LoopBound(value: self)
        disk.submit(on: loop, { store.stats(retentionDays: days) }) { result in
            let me = box.value
            let waiting = me.statsWaiting
            me.statsWaiting = []
            me.statsScanning = false
            for w in waiting { w(result) }
            if !me.statsNext.isEmpty {
                let next = me.statsNext
                me.statsNext = []
                me.stats { s in for w in next { w(s) } }
            }
        }
    }

    /// `/api/cleanup/stats` text for `s`.
    func statsJSON(_ s: StoreStats) -> String {
        let hundredths = (s.totalStorageBytes * 100 + 524_288) / 1_048_576
        let frac = hundredths % 100
        return "{\"retentionDays\":\(retentionDays),\"artifactsPendingDeletion\":\(s.artifactsPendingDeletion),\"totalArtifacts\":\(s.totalArtifacts),\"totalStorageBytes\":\(s.totalStorageBytes),\"totalStorageMB\":\"\(hundredths / 100).\(frac < 10 ? "0" : "")\(frac)\"}"
    }
}
