import Artifacts
import HTTP1
import Reactor
#if canImport(Glibc)
import Glibc
#endif

/// `GET`/`HEAD /files/{runId}/{artifactId}?expires=&signature=`: the signed download.
///
/// The signature is checked on the loop (one HMAC); the metadata read and the `open` run on
/// the worker pool; the body is a `BodySource` — `sendfile` of the stored bytes
/// (`StoredFileBody`) or, for a gzip-stored trace and a client without gzip, inflated on the
/// pool (`PooledBody`). Only ids matching the id rule reach the store, and the store builds
/// every path itself, so no request names a file outside it.
extension HTTPConnection {
    func serveFile(_ r: Incoming) {
        let service = ctx.artifacts!
        let slot = r.slot
        func refuse(_ status: Int, _ code: String, _ message: String) {
            fail(slot, status, code: code, message: message, headers: ArtifactHTTP.cors)
        }
        guard let runId = RunID.parse(r.param(0)), let id = RunID.parse(r.param(1)) else {
            return refuse(400, "invalid_id", "runId and artifactId must match [A-Za-z0-9_.-]{1,128}")
        }
        let query = r.query
        switch service.signer.verify(path: "/files/\(runId)/\(id)", expires: query.string("expires"),
                                     signature: query.string("signature"), now: Timestamp.now()) {
        case .missing: return refuse(403, "signature_required", "this file needs a signed URL (GET …/artifacts/{id}/download)")
        case .invalid: return refuse(403, "invalid_signature", "the URL's signature does not match (altered, or signed with an unknown key)")
        case .expired: return refuse(410, "url_expired", "the signed URL has expired; ask for a new one")
        case .tooFarAhead: return refuse(403, "invalid_signature", "the URL's expires lies more than 7 days ahead (no signed URL lives longer); ask for a new one")
        case .valid: break
        }
        let request = FileRequest(range: r.headerText("range"), ifNoneMatch: r.headerText("if-none-match"),
                                  acceptsGzip: ArtifactHTTP.acceptsGzip(r.headerText("accept-encoding")), isHead: r.isHead)
        let store = service.store
        let me = LoopBound(value: self)
        ctx.server.pool.submit(on: loop, { () -> (fd: Int32, meta: ArtifactMetadata, answer: FileAnswer)? in
            guard let opened = store.open(runId, id) else { return nil }
            return (opened.fd, opened.meta, FileAnswer(opened.meta, storedSize: opened.size, request))
        }) { opened in
            let conn = me.value
            guard let opened else {
                guard !conn.isClosed else { return }
                return conn.fail(slot, 404, code: "artifact_not_found", message: "no artifact \(id) in run \(runId)", headers: ArtifactHTTP.cors)
            }
            guard !conn.isClosed else { Glibc.close(opened.fd); return }
            conn.answerFile(slot, opened.fd, opened.meta, opened.answer)
        }
    }

    /// Writes the head and hands the body to its source (or answers 304/416), as `answer`
    /// decided.
    private func answerFile(_ slot: Slot, _ fd: Int32, _ m: ArtifactMetadata, _ answer: FileAnswer) {
        let etag = answer.etag
        let type = ArtifactHTTP.contentType(name: m.name, kind: m.kind)
        var headers = "Content-Type: \(type)\r\nETag: \(etag)\r\nAccept-Ranges: bytes\r\nContent-Disposition: \(ArtifactHTTP.contentDisposition(name: m.name, contentType: type))\r\n"
        headers += "Cache-Control: private, no-transform\r\nX-Content-Type-Options: nosniff\r\n" + ArtifactHTTP.cors
        if m.encoding == .gzip { headers += "Vary: Accept-Encoding\r\n" }
        let first: Int64, length: Int64
        switch answer.kind {
        case .notModified:
            Glibc.close(fd)
            return respondEmpty(slot, 304, headers: "ETag: \(etag)\r\nCache-Control: private, no-transform\r\n" + ArtifactHTTP.cors)
        case .unsatisfiable:
            Glibc.close(fd)
            return fail(slot, 416, code: "range_not_satisfiable", message: "the range is outside the artifact's \(m.size) bytes",
                        headers: "Content-Range: bytes */\(m.size)\r\n" + ArtifactHTTP.cors)
        case .content(let status, let a, let n):
            first = a
            length = n
            if answer.passthrough {
                headers += "Content-Encoding: gzip\r\n"
            } else if status == 206 {
                headers += "Content-Range: bytes \(a)-\(a + n - 1)/\(m.size)\r\n"
            }
            let keep = keepsAlive(slot), now = loop.now
            writeAnswer(slot) { out in
                resources.writer.head(status, contentType: nil, contentLength: Int(length), keepAlive: keep, now: now, into: &out)
                out.append(string: headers)
                resources.writer.endHead(into: &out)
            }
        }
        guard answer.hasBody else {
            Glibc.close(fd)
            return complete(slot)
        }
        let service = ctx.artifacts!
        let source: BodySource = answer.inflates
            ? PooledBody(gzipFD: fd, first: first, length: length, owner: self, pool: ctx.server.pool, loop: loop)
            : StoredFileBody(fd: fd, offset: first, end: first + length, owner: self, pool: ctx.server.pool, loop: loop,
                             diskReads: service.downloadDiskReads)
        complete(slot, source: source)
    }
}
