/// What the store keeps beside each artifact's bytes (`<id>.json`), and what the API shows.
public struct ArtifactMetadata: Sendable, Equatable {
    /// The kinds an upload may declare (`?kind=`).
    public static let kinds = ["trace", "screenshot", "video", "log", "other"]

    /// 24 random hex digits, unique within the store.
    public var id: String
    /// The run it belongs to.
    public var runId: String
    /// The file name the uploader gave (`?name=`), used for Content-Type and Content-Disposition.
    public var name: String
    /// One of `kinds`.
    public var kind: String
    /// Bytes of the original upload.
    public var size: Int64
    /// SHA-256 of the original bytes, lower-case hex.
    public var sha256: String
    /// Seconds since the epoch (ISO-8601 with milliseconds on disk and in the API).
    public var createdAt: Double
    /// How the bytes are stored on disk.
    public var encoding: Encoding
    /// Bytes on disk (`size` unless compressed).
    public var storedSize: Int64
    /// Where background compression stands (traces only).
    public var compression: Compression

    /// The stored representation: the original bytes, or a gzip member of them.
    public enum Encoding: String, Sendable {
        case identity, gzip
    }

    /// `none` (not a trace), `pending` (queued; picked up again after a restart), `done`
    /// (stored as gzip), `kept` (saved < 5 %: the original stays), `failed` (the compressed copy
    /// could not be made or verified: the original stays and is served).
    public enum Compression: String, Sendable {
        case none, pending, done, kept, failed
    }

    /// Metadata of a stored artifact (`storedSize` defaults to `size`).
    public init(id: String, runId: String, name: String, kind: String, size: Int64, sha256: String,
                createdAt: Double, encoding: Encoding = .identity, storedSize: Int64? = nil,
                compression: Compression = .none) {
        self.id = id
        self.runId = runId
        self.name = name
        self.kind = kind
        self.size = size
        self.sha256 = sha256
        self.createdAt = createdAt
        self.encoding = encoding
        self.storedSize = storedSize ?? size
        self.compression = compression
    }

    /// The public JSON object (`POST` answer, list entries, `GET …/artifacts/{id}`).
    public var apiJSON: String {
        FlatJSON.encode([
            ("id", .string(id)), ("runId", .string(runId)), ("name", .string(name)), ("kind", .string(kind)),
            ("size", .number(Double(size))), ("sha256", .string(sha256)), ("createdAt", .string(ISOTime.format(createdAt))),
        ])
    }

    /// The metadata file's contents (the API fields plus the storage state).
    public var fileJSON: String {
        FlatJSON.encode([
            ("id", .string(id)), ("runId", .string(runId)), ("name", .string(name)), ("kind", .string(kind)),
            ("size", .number(Double(size))), ("sha256", .string(sha256)), ("createdAt", .string(ISOTime.format(createdAt))),
            ("encoding", .string(encoding.rawValue)), ("storedSize", .number(Double(storedSize))),
            ("compression", .string(compression.rawValue)),
        ])
    }

    /// Reads a metadata file's contents; nil when a required field is missing or malformed.
    public static func parse(_ bytes: [UInt8]) -> ArtifactMetadata? {
        guard let f = FlatJSON.decode(bytes),
              case .string(let id)? = f["id"], case .string(let runId)? = f["runId"],
              case .string(let name)? = f["name"], case .string(let kind)? = f["kind"],
              case .number(let size)? = f["size"], case .string(let sha)? = f["sha256"],
              case .string(let created)? = f["createdAt"], let createdAt = ISOTime.parse(created) else { return nil }
        var m = ArtifactMetadata(id: id, runId: runId, name: name, kind: kind, size: Int64(size), sha256: sha, createdAt: createdAt)
        if case .string(let e)? = f["encoding"], let enc = Encoding(rawValue: e) { m.encoding = enc }
        if case .number(let s)? = f["storedSize"] { m.storedSize = Int64(s) }
        if case .string(let c)? = f["compression"], let comp = Compression(rawValue: c) { m.compression = comp }
        return m
    }
}
