import HTTP1

/// Every route the server answers; the router maps method + path to one of these, so a
/// dispatch is a switch, not a closure call.
enum Endpoint: Sendable {
    case health
    case ready
    case wsStats
    case metrics
    case echo
    case publishEvents
    case runEvents
    case multiplexed
    case uploadArtifact
    case listArtifacts
    case getArtifact
    case deleteArtifact
    case downloadArtifact
    case file
    case filePreflight
    case cleanupStats
}

extension Endpoint {
    /// Whether the answer is made at once, on the loop, whatever the backend (health, stats,
    /// metrics, preflight): such a request never waits for anything but earlier answers.
    var answersAtOnce: Bool {
        switch self {
        case .health, .ready, .wsStats, .metrics, .filePreflight: return true
        default: return false
        }
    }

    /// The route table (body limits per route: these GET routes take no body worth keeping).
    static func makeRouter(_ config: Config) -> Router<Endpoint> {
        let r = Router<Endpoint>()
        r.add(.get, "/health", maxBody: 0, .health)
        r.add(.get, "/health/ready", maxBody: 0, .ready)
        r.add(.get, "/api/ws/stats", maxBody: 0, .wsStats)
        r.add(.get, "/metrics", maxBody: 0, .metrics)
        if config.enableEcho { r.add(.get, "/api/ws/echo", maxBody: 0, .echo) }
        r.add(.post, "/api/tests/:runId/events", maxBody: config.eventMaxBytes, .publishEvents)
        r.add(.get, "/api/tests/:runId/events", maxBody: 0, .runEvents)
        r.add(.get, "/api/ws", maxBody: 0, .multiplexed)
        // The upload body is streamed to disk (MAX_ARTIFACT_BYTES applies), never buffered.
        r.add(.post, "/api/tests/:runId/artifacts", maxBody: 0, .uploadArtifact)
        r.add(.get, "/api/tests/:runId/artifacts", maxBody: 0, .listArtifacts)
        r.add(.get, "/api/tests/:runId/artifacts/:artifactId", maxBody: 0, .getArtifact)
        r.add(.delete, "/api/tests/:runId/artifacts/:artifactId", maxBody: 0, .deleteArtifact)
        r.add(.get, "/api/tests/:runId/artifacts/:artifactId/download", maxBody: 0, .downloadArtifact)
        r.add(.get, "/files/:runId/:artifactId", maxBody: 0, .file)
        r.add(.options, "/files/:runId/:artifactId", maxBody: 0, .filePreflight)
        r.add(.get, "/api/cleanup/stats", maxBody: 0, .cleanupStats)
        return r
    }
}
