import Artifacts
import HTTP1
import Reactor

/// The artifact endpoints (API.md "Artifacts"): upload (streamed), list, get, delete, signed
/// download URLs and the cleaner's stats. Disk work runs on the worker pool; its answer comes
/// back to the request's slot.
extension HTTPConnection {
    /// `POST /api/tests/{runId}/artifacts?name=&kind=`: checks everything that can be checked
    /// before the body, then streams the body into the store. Returns the bytes used.
    func startUpload(_ r: Incoming) -> Int {
        let head = r.head
        switch ctx.auth.publisherKey(head, r.raw, slots: r.slots) {
        case nil: return refuse(r.slot, head, r.buf, 401, code: "unauthorized", message: "uploading needs an API key: Authorization: Bearer <key>")
        case false?: return refuse(r.slot, head, r.buf, 403, code: "forbidden", message: "the API key is not valid")
        default: break
        }
        guard let run = RunID.parse(r.param(0)) else {
            return refuse(r.slot, head, r.buf, 400, code: "invalid_id", message: "runId must match [A-Za-z0-9_.-]{1,128}")
        }
        let query = r.query
        guard let nameBytes = query.value("name"), let name = ArtifactHTTP.percentDecode(nameBytes), ArtifactHTTP.validName(name) else {
            return refuse(r.slot, head, r.buf, 400, code: "invalid_name",
                          message: "name must be a file name of 1-255 bytes without control characters, '/' or '\\' (percent-encoded)")
        }
        let kind = query.value("kind").flatMap { ArtifactHTTP.percentDecode($0) } ?? "other"
        guard ArtifactMetadata.kinds.contains(kind) else {
            return refuse(r.slot, head, r.buf, 400, code: "invalid_kind", message: "kind must be one of \(ArtifactMetadata.kinds.joined(separator: ", "))")
        }
        let service = ctx.artifacts!
        if head.contentLength > service.maxBytes {
            return refuse(r.slot, head, r.buf, 413, code: "body_too_large", message: "the artifact exceeds MAX_ARTIFACT_BYTES (\(service.maxBytes) bytes)")
        }
        if !head.chunked && head.contentLength < 0 {
            return refuse(r.slot, head, r.buf, 411, code: "length_required", message: "send the artifact with Content-Length or Transfer-Encoding: chunked")
        }
        let rest = UnsafeMutableRawBufferPointer(rebasing: r.buf[head.headLength...])
        let arrived = head.chunked ? rest.count > 0 : Int64(rest.count) >= head.contentLength
        if AnswerPipeline.continues(expected: head.expectContinue, bodyArrived: arrived, bodyWanted: true) {
            writeAnswer(r.slot) { $0.append("HTTP/1.1 100 Continue\r\n\r\n") }
        }
        let s = UploadSession(owner: self, slot: r.slot, service: service, runId: run, name: name, kind: kind, head: head)
        upload = s
        phase = .upload
        deadline = loop.now + limits.idleTimeout
        let used = s.feed(rest)
        if upload === s && s.bodyDone { bodyRead() }
        return isClosed ? r.buf.count : head.headLength + used
    }

    /// The upload's body is all read: what follows is the next request (its answer comes with
    /// the commit, in its slot).
    func bodyRead() {
        upload = nil
        phase = .heads
        uploadPaused = false
        endOfRequest()
        updateReading()
    }

    /// Reading artifacts needs what reading events needs: with TOKEN_SECRET, a token for the
    /// run (or a publisher key); otherwise nothing.
    private func readRefusal(_ r: Incoming, runId: String) -> SubscriberToken.Refusal? {
        if ctx.auth.isPublisher(r.head, r.raw, slots: r.slots) { return nil }
        return ctx.auth.refuseSubscriber(r.query.value("token"), runId: runId)
    }

    /// The JSON artifact endpoints.
    func artifactRequest(_ endpoint: Endpoint, _ r: Incoming) {
        let service = ctx.artifacts!
        let store = service.store
        let slot = r.slot
        if case .cleanupStats = endpoint {
            service.stats { [self] stats in respond(slot, 200, json: service.statsJSON(stats)) }
            return
        }
        guard let runId = RunID.parse(r.param(0)) else {
            return fail(slot, 400, code: "invalid_id", message: "runId must match [A-Za-z0-9_.-]{1,128}")
        }
        let artifactId = r.params.count > 1 ? RunID.parse(r.param(1)) ?? "" : "-"
        if artifactId.isEmpty {
            return fail(slot, 400, code: "invalid_id", message: "artifactId must match [A-Za-z0-9_.-]{1,128}")
        }
        if case .deleteArtifact = endpoint {
            switch ctx.auth.publisherKey(r.head, r.raw, slots: r.slots) {
            case nil: return fail(slot, 401, code: "unauthorized", message: "deleting needs an API key: Authorization: Bearer <key>")
            case false?: return fail(slot, 403, code: "forbidden", message: "the API key is not valid")
            default: break
            }
        } else if let refusal = readRefusal(r, runId: runId) {
            return fail(slot, refusal.status, code: refusal.code, message: refusal.message)
        }
        let notFound = "no artifact \(artifactId) in run \(runId)"
        switch endpoint {
        case .listArtifacts:
            offLoop({ store.list(runId).map(\.apiJSON) }) { [self] items in
                respond(slot, 200, json: "[" + items.joined(separator: ",") + "]")
            }
        case .getArtifact:
            offLoop({ store.metadata(runId, artifactId) }) { [self] meta in
                if let meta { respond(slot, 200, json: meta.apiJSON) } else { fail(slot, 404, code: "artifact_not_found", message: notFound) }
            }
        case .deleteArtifact:
            offLoop({ store.delete(runId, artifactId) }) { [self] deleted in
                if deleted { respondEmpty(slot, 204) } else { fail(slot, 404, code: "artifact_not_found", message: notFound) }
            }
        case .downloadArtifact:
            let redirect = r.query.string("redirect").map { $0 == "1" || $0 == "true" } ?? false
            offLoop({ store.metadata(runId, artifactId) != nil }) { [self] exists in
                guard exists else { return fail(slot, 404, code: "artifact_not_found", message: notFound) }
                let (url, expires) = service.signedURL(runId: runId, id: artifactId, now: Timestamp.now())
                if redirect {
                    respondEmpty(slot, 302, headers: "Location: \(url)\r\nCache-Control: no-store\r\n")
                } else {
                    respond(slot, 200, json: "{\"url\":\(jsonString(url)),\"expiresAt\":\"\(Timestamp.iso(Double(expires)))\",\"expiresIn\":\(service.signedURLTTL)}")
                }
            }
        default:
            break
        }
    }

    /// Runs `work` on the worker pool, then `then` with its result on this connection's loop
    /// (unless the connection closed meanwhile).
    func offLoop<T: Sendable>(_ work: @escaping @Sendable () -> T, then: @escaping (T) -> Void) {
        let box = LoopBound(value: then)
        let me = LoopBound(value: self)
        ctx.server.pool.submit(on: loop, work) { result in
            guard !me.value.isClosed else { return }
            box.value(result)
        }
    }
}

extension HTTPConnection: UploadOwner {
    func uploadWantsBody(_ more: Bool) {
        uploadPaused = !more
        updateReading()
    }

    func uploadProgressed() {
        deadline = loop.now + limits.idleTimeout
    }

    func uploadEnded(_ slot: Slot, _ result: Result<ArtifactMetadata, UploadFailure>) {
        if let u = upload, u.slot == slot { // ended while its body was being read: a failure
            upload = nil
            phase = .heads
            uploadPaused = false
        }
        guard !isClosed else { return }
        switch result {
        case .success(let meta): respond(slot, 201, json: meta.apiJSON)
        case .failure(let f): fail(slot, f.status, code: f.code, message: f.message, close: f.bodyUnread)
        }
    }
}

/// Carries a loop-confined value through a `@Sendable` closure that hands it back to the same
/// loop (the worker pool's completion runs on the submitting loop's thread).
struct LoopBound<T>: @unchecked Sendable {
    let value: T
}
