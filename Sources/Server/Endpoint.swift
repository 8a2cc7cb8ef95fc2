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
}

extension Endpoint {
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
        return r
    }
}
