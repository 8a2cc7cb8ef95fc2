import Artifacts

/// What a signed download asks for (the headers that decide the answer).
struct FileRequest: Sendable {
    let range: String?
    let ifNoneMatch: String?
    let acceptsGzip: Bool
    let isHead: Bool
}

/// How a signed download is answered, decided from the metadata, the stored file's size and
/// the request alone (no I/O). The worker that opened the file decides it; the loop writes it.
struct FileAnswer: Sendable {
    enum Kind: Sendable, Equatable {
        /// 304 (RFC 9110 §13.1.2): `If-None-Match` names the ETag.
        case notModified
        /// 416 (RFC 9110 §15.5.17): the range starts past the end.
        case unsatisfiable
        /// 200 or 206: `length` bytes from `first` — of the stored file, or of the inflated
        /// bytes when `inflates`.
        case content(status: Int, first: Int64, length: Int64)
    }

    let kind: Kind
    let etag: String
    /// Stored as gzip and sent as it is (`Content-Encoding: gzip`).
    let passthrough: Bool
    /// Stored as gzip and inflated on the worker pool (a client without gzip, or a range).
    let inflates: Bool
    let isHead: Bool

    init(_ m: ArtifactMetadata, storedSize: Int64, _ r: FileRequest) {
        let gzipStored = m.encoding == .gzip
        passthrough = gzipStored && r.acceptsGzip && r.range == nil
        inflates = gzipStored && !passthrough
        isHead = r.isHead
        etag = "\"\(m.sha256.prefix(32))\(passthrough ? "-gzip" : "")\""
        if ArtifactHTTP.matches(ifNoneMatch: r.ifNoneMatch, etag: etag) {
            kind = .notModified
        } else if passthrough {
            kind = .content(status: 200, first: 0, length: storedSize)
        } else {
            switch ArtifactHTTP.range(r.range, size: m.size) {
            case .whole: kind = .content(status: 200, first: 0, length: m.size)
            case .part(let a, let b): kind = .content(status: 206, first: a, length: b - a + 1)
            case .unsatisfiable: kind = .unsatisfiable
            }
        }
    }

    /// Whether a body follows the head.
    var hasBody: Bool {
        guard case .content(_, _, let length) = kind else { return false }
        return !isHead && length > 0
    }
}
