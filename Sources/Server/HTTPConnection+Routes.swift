import HTTP1
import Reactor

/// What each endpoint answers (the run-event and artifact endpoints have files of their own).
extension HTTPConnection {
    /// Handles a started request whose body (if any) is complete.
    func dispatch(_ endpoint: Endpoint, _ r: Incoming) {
        switch endpoint {
        case .health, .ready, .wsStats, .metrics, .filePreflight:
            answerAtOnce(endpoint, r.slot, direct: false)
        case .publishEvents:
            publish(r)
        case .runEvents:
            history(r)
        case .listArtifacts, .getArtifact, .deleteArtifact, .downloadArtifact, .cleanupStats:
            artifactRequest(endpoint, r)
        case .file:
            serveFile(r)
        case .echo, .multiplexed, .uploadArtifact:
            break // started before the body: `start` handles them
        }
    }

    /// The endpoints answered at once (`Endpoint.answersAtOnce`); `direct`: the request came
    /// into an idle pipeline with keep-alive, so its answer goes straight out, keeping the
    /// connection (the steady state of a health check).
    func answerAtOnce(_ endpoint: Endpoint, _ slot: Slot, isHead: Bool = false, direct: Bool) {
        switch endpoint {
        case .health:
            health(slot, isHead: isHead, direct: direct)
        case .ready:
            let (ok, reason) = ctx.server.readiness
            respond(slot, ok ? 200 : 503, json: ok ? "{\"status\":\"ready\"}" : "{\"status\":\"unavailable\",\"reason\":\(jsonString(reason))}")
        case .wsStats:
            respond(slot, 200, json: ctx.server.statsJSON(now: loop.now))
        case .metrics:
            var text = ctx.server.metrics.render()
            text.withUTF8 { respond(slot, 200, "text/plain; version=0.0.4", UnsafeRawBufferPointer($0)) }
        case .filePreflight:
            respondEmpty(slot, 204, headers: ArtifactHTTP.preflight)
        default:
            break
        }
    }

    /// `GET /health`: `{"status":"ok","timestamp":"2025-11-21T14:49:52.479Z"}` (28 + 24 + 2 bytes),
    /// written without a String.
    @inline(__always)
    private func health(_ slot: Slot, isHead: Bool, direct: Bool) {
        let now = loop.now
        if direct {
            prepareOutput()
            Self.health(&output, &resources.writer, keepAlive: true, head: isHead, now: now)
            markForFlush()
        } else {
            let keep = keepsAlive(slot), head = self.isHead(slot)
            writeAnswer(slot) { Self.health(&$0, &resources.writer, keepAlive: keep, head: head, now: now) }
        }
        complete(slot)
    }

    @inline(__always)
    private static func health(_ out: inout ByteBuffer, _ writer: inout ResponseWriter, keepAlive: Bool, head: Bool, now: Double) {
        writer.head(200, contentType: "application/json", contentLength: 54, keepAlive: keepAlive, now: now, into: &out)
        writer.endHead(into: &out)
        if !head {
            out.append("{\"status\":\"ok\",\"timestamp\":\"")
            writer.timestamp.appendISO(now, to: &out)
            out.append("\"}")
        }
    }
}
