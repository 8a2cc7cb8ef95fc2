import Artifacts
import HTTP1
import Reactor
#if canImport(Glibc)
import Glibc
#endif

/// `GET`/`HEAD /files/{runId}/{artifactId}?expires=&signature=`: the signed download.
///
/// The signature is checked on the loop (one HMAC); the metadata read and the `open` run on
/// the worker pool; the body goes out with `sendfile` or, for a gzip-stored trace and a client
/// without gzip, inflated on the pool (`FileTransfer`). Only ids matching the id rule reach
/// the store, and the store builds every path itself, so no request names a file outside it.
extension HTTPConnection {
    func serveFile(_ head: RequestHead, _ raw: UnsafeRawBufferPointer, path: UnsafeRawBufferPointer, params: RouteParams) {
        let service = ctx.artifacts!
        let isHead = head.method == .head
        func refuse(_ status: Int, _ code: String, _ message: String) {
            fail(status, code: code, message: message, extraHeaders: ArtifactHTTP.cors, head: isHead, keepAlive: head.keepAlive)
        }
        guard let runId = RunID.parse(params.bytes(0, in: path)), let id = RunID.parse(params.bytes(1, in: path)) else {
            return refuse(400, "invalid_id", "runId and artifactId must match [A-Za-z0-9_.-]{1,128}")
        }
        let query = Query(bytes: head.query(in: raw) ?? UnsafeRawBufferPointer(start: nil, count: 0))
        switch service.signer.verify(path: "/files/\(runId)/\(id)", expires: query.string("expires"),
                                     signature: query.string("signature"), now: Timestamp.now()) {
        case .missing: return refuse(403, "signature_required", "this file needs a signed URL (GET …/artifacts/{id}/download)")
        case .invalid: return refuse(403, "invalid_signature", "the URL's signature does not match (altered, or signed with an unknown key)")
        case .expired: return refuse(410, "url_expired", "the signed URL has expired; ask for a new one")
        case .tooFarAhead: return refuse(403, "invalid_signature", "the URL's expires lies more than 7 days ahead (no signed URL lives longer); ask for a new one")
        case .valid: break
        }
        let slots = UnsafeBufferPointer(ctx.slots)
        func header(_ name: StaticString) -> String? {
            head.header(name, in: raw, slots: slots).map { String(decoding: $0, as: UTF8.self) }
        }
        let request = FileRequest(range: header("range"), ifNoneMatch: header("if-none-match"),
                                  acceptsGzip: ArtifactHTTP.acceptsGzip(header("accept-encoding")), isHead: isHead)
        let store = service.store
        awaitOffLoop(head)
        offLoop({ () -> (fd: Int32, meta: ArtifactMetadata, answer: FileAnswer)? in
            guard let opened = store.open(runId, id) else { return nil }
            return (opened.fd, opened.meta, FileAnswer(opened.meta, storedSize: opened.size, request))
        }) { [self] opened in
            guard let opened else {
                return failOffLoop(404, code: "artifact_not_found", message: "no artifact \(id) in run \(runId)", extraHeaders: ArtifactHTTP.cors)
            }
            guard !isClosed else { Glibc.close(opened.fd); return }
            startFile(opened.fd, opened.meta, opened.answer)
        }
    }

    /// Writes the head and starts the body (or answers 304/416), as `answer` decided.
    private func startFile(_ fd: Int32, _ m: ArtifactMetadata, _ answer: FileAnswer) {
        let etag = answer.etag
        let type = ArtifactHTTP.contentType(name: m.name, kind: m.kind)
        var headers = "Content-Type: \(type)\r\nETag: \(etag)\r\nAccept-Ranges: bytes\r\nContent-Disposition: \(ArtifactHTTP.contentDisposition(name: m.name, contentType: type))\r\n"
        headers += "Cache-Control: private, no-transform\r\nX-Content-Type-Options: nosniff\r\n" + ArtifactHTTP.cors
        if m.encoding == .gzip { headers += "Vary: Accept-Encoding\r\n" }
        let keepAlive = answerKeepsAlive
        func writeHead(_ status: Int, length: Int64, extra: String = "") {
            prepareOutput()
            ctx.writer.head(status, contentType: nil, contentLength: Int(length), keepAlive: keepAlive, now: loop.now, into: &output)
            output.append(string: headers + extra)
            ctx.writer.endHead(into: &output)
            markForFlush()
        }
        let first: Int64, length: Int64
        switch answer.kind {
        case .notModified:
            Glibc.close(fd)
            return answerOffLoopEmpty(304, extraHeaders: "ETag: \(etag)\r\nCache-Control: private, no-transform\r\n" + ArtifactHTTP.cors)
        case .unsatisfiable:
            Glibc.close(fd)
            return failOffLoop(416, code: "range_not_satisfiable", message: "the range is outside the artifact's \(m.size) bytes",
                               extraHeaders: "Content-Range: bytes */\(m.size)\r\n" + ArtifactHTTP.cors)
        case .content(let status, let a, let n):
            first = a
            length = n
            if answer.passthrough {
                writeHead(status, length: length, extra: "Content-Encoding: gzip\r\n")
            } else if status == 206 {
                writeHead(status, length: length, extra: "Content-Range: bytes \(a)-\(a + n - 1)/\(m.size)\r\n")
            } else {
                writeHead(status, length: length)
            }
        }
        guard answer.hasBody else {
            Glibc.close(fd)
            return resumeRequests()
        }
        if answer.inflates {
            transfer = FileTransfer(conn: self, gzipFD: fd, first: first, length: length)
        } else {
            transfer = FileTransfer(conn: self, fd: fd, offset: first, end: first + length)
        }
        // The head is queued: `drained()` starts the body once it is written.
    }
}
