import Artifacts
import HTTP1
import Reactor

/// The artifact endpoints (API.md "Artifacts"): upload (streamed), list, get, delete, signed
/// download URLs and the cleaner's stats. Disk work runs on the worker pool; the connection
/// waits for it without blocking the loop.
extension HTTPConnection {
    /// `POST /api/tests/{runId}/artifacts?name=&kind=`: checks everything that can be checked
    /// before the body, then streams the body into the store. Returns the bytes used.
    func startUpload(_ head: RequestHead, _ buf: UnsafeMutableRawBufferPointer, runId: UnsafeRawBufferPointer) -> Int {
        let raw = UnsafeRawBufferPointer(buf)
        func refuse(_ status: Int, _ code: String, _ message: String) -> Int {
            // The body was not read: answer and close.
            fail(status, code: code, message: message, head: head.method == .head)
            return -1
        }
        switch ctx.hasPublisherKey(head, raw) {
        case nil: return refuse(401, "unauthorized", "uploading needs an API key: Authorization: Bearer <key>")
        case false?: return refuse(403, "forbidden", "the API key is not valid")
        default: break
        }
        guard let run = RunID.parse(runId) else { return refuse(400, "invalid_id", "runId must match [A-Za-z0-9_.-]{1,128}") }
        let query = Query(bytes: head.query(in: raw) ?? UnsafeRawBufferPointer(start: nil, count: 0))
        guard let nameBytes = query.value("name"), let name = ArtifactHTTP.percentDecode(nameBytes), ArtifactHTTP.validName(name) else {
            return refuse(400, "invalid_name", "name must be a file name of 1-255 bytes without control characters, '/' or '\\' (percent-encoded)")
        }
        let kind = query.value("kind").flatMap { ArtifactHTTP.percentDecode($0) } ?? "other"
        guard ArtifactMetadata.kinds.contains(kind) else {
            return refuse(400, "invalid_kind", "kind must be one of \(ArtifactMetadata.kinds.joined(separator: ", "))")
        }
        let service = ctx.artifacts!
        if head.contentLength > service.maxBytes {
            return refuse(413, "body_too_large", "the artifact exceeds MAX_ARTIFACT_BYTES (\(service.maxBytes) bytes)")
        }
        if !head.chunked && head.contentLength < 0 {
            return refuse(411, "length_required", "send the artifact with Content-Length or Transfer-Encoding: chunked")
        }
        continueIfAsked(head)
        busy = Busy.uploading
        pendingKeepAlive = head.keepAlive
        pendingHead = false
        let s = UploadSession(conn: self, service: service, runId: run, name: name, kind: kind, head: head)
        session = s
        deadline = loop.now + ctx.idleTimeout
        let rest = UnsafeMutableRawBufferPointer(rebasing: buf[head.headLength...])
        let used = s.feed(rest)
        if s.bodyDone && busy == Busy.uploading { // an empty body: `feed` saw none of it
            busy = Busy.waiting // the commit is running; later requests wait for its answer
            hold()
        }
        return isClosed ? -1 : head.headLength + used
    }

    /// Reading artifacts needs what reading events needs: with TOKEN_SECRET, a token for the
    /// run (or a publisher key); otherwise nothing.
    private func readRefusal(_ head: RequestHead, _ raw: UnsafeRawBufferPointer, runId: String) -> SubscriberToken.Refusal? {
        let publisher = !ctx.apiKeys.isEmpty && ctx.hasPublisherKey(head, raw) == true
        if publisher { return nil }
        let query = Query(bytes: head.query(in: raw) ?? UnsafeRawBufferPointer(start: nil, count: 0))
        return ctx.refuseSubscriber(query.value("token"), runId: runId)
    }

    /// The JSON artifact endpoints and signed files.
    func artifactRequest(_ endpoint: Endpoint, _ head: RequestHead, _ buf: UnsafeMutableRawBufferPointer,
                         path: UnsafeRawBufferPointer, params: RouteParams) {
        let raw = UnsafeRawBufferPointer(buf)
        let service = ctx.artifacts!
        let store = service.store
        if case .cleanupStats = endpoint {
            awaitOffLoop(head)
            service.stats { [self] stats in answerOffLoop(200, json: service.statsJSON(stats)) }
            return
        }
        if case .file = endpoint { return serveFile(head, raw, path: path, params: params) }
        guard let runId = RunID.parse(params.bytes(0, in: path)) else {
            return reply(400, error: "invalid_id", "runId must match [A-Za-z0-9_.-]{1,128}", head)
        }
        let artifactId = params.count > 1 ? RunID.parse(params.bytes(1, in: path)) ?? "" : "-"
        if artifactId.isEmpty {
            return reply(400, error: "invalid_id", "artifactId must match [A-Za-z0-9_.-]{1,128}", head)
        }
        if case .deleteArtifact = endpoint {
            switch ctx.hasPublisherKey(head, raw) {
            case nil: return reply(401, error: "unauthorized", "deleting needs an API key: Authorization: Bearer <key>", head)
            case false?: return reply(403, error: "forbidden", "the API key is not valid", head)
            default: break
            }
        } else if let refusal = readRefusal(head, raw, runId: runId) {
            return reply(refusal.status, error: refusal.code, refusal.message, head)
        }
        let notFound = "no artifact \(artifactId) in run \(runId)"
        switch endpoint {
        case .listArtifacts:
            awaitOffLoop(head)
            offLoop({ store.list(runId).map(\.apiJSON) }) { [self] items in
                answerOffLoop(200, json: "[" + items.joined(separator: ",") + "]")
            }
        case .getArtifact:
            awaitOffLoop(head)
            offLoop({ store.metadata(runId, artifactId) }) { [self] meta in
                if let meta { answerOffLoop(200, json: meta.apiJSON) } else { failOffLoop(404, code: "artifact_not_found", message: notFound) }
            }
        case .deleteArtifact:
            awaitOffLoop(head)
            offLoop({ store.delete(runId, artifactId) }) { [self] deleted in
                if deleted { answerOffLoopEmpty(204) } else { failOffLoop(404, code: "artifact_not_found", message: notFound) }
            }
        case .downloadArtifact:
            let query = Query(bytes: head.query(in: raw) ?? UnsafeRawBufferPointer(start: nil, count: 0))
            let redirect = query.string("redirect").map { $0 == "1" || $0 == "true" } ?? false
            awaitOffLoop(head)
            offLoop({ store.metadata(runId, artifactId) != nil }) { [self] exists in
                guard exists else { return failOffLoop(404, code: "artifact_not_found", message: notFound) }
                let now = Timestamp.now()
                let (url, expires) = service.signedURL(runId: runId, id: artifactId, now: now)
                if redirect {
                    answerOffLoopEmpty(302, extraHeaders: "Location: \(url)\r\nCache-Control: no-store\r\n")
                } else {
                    answerOffLoop(200, json: "{\"url\":\(jsonString(url)),\"expiresAt\":\"\(Timestamp.iso(Double(expires)))\",\"expiresIn\":\(service.signedURLTTL)}")
                }
            }
        default:
            break
        }
    }
}
