import Metrics

/// The HTTP side's numbers on one loop (summed over loops in `/metrics`).
final class HTTPCounters {
    let connections: Gauge
    let requests: Counter
    let errors: Counter

    init(_ m: MetricsRegistry) {
        connections = m.gauge("runwire_http_connections", help: "Open HTTP connections.")
        requests = m.counter("runwire_http_requests_total", help: "Requests answered.")
        errors = m.counter("runwire_http_errors_total", help: "Requests answered with an error status.")
    }
}

/// The WebSocket side's numbers on one loop.
final class WebSocketCounters {
    /// Open WebSocket connections on this loop (`localConnections`), summed over loops…
    let connections: Gauge
    /// …and the same per loop.
    let loopConnections: Gauge
    let protocolErrors: Counter
    let slowConsumersClosed: Counter

    init(_ m: MetricsRegistry, loop: Int) {
        connections = m.gauge("runwire_ws_connections", help: "Open WebSocket connections.")
        loopConnections = m.gauge("runwire_loop_ws_connections", help: "Open WebSocket connections per event loop.", labels: "loop=\"\(loop)\"")
        protocolErrors = m.counter("runwire_ws_protocol_errors_total", help: "WebSocket connections closed for breaking the protocol.")
        slowConsumersClosed = m.counter("runwire_ws_slow_consumers_closed_total", help: "Subscribers closed with 1013 for falling behind.")
    }

    /// One WebSocket more (+1) or less (-1) on this loop.
    func opened(_ n: Int) {
        connections.add(n)
        loopConnections.add(n)
    }
}

/// Run events on one loop: published here, received from elsewhere, handed to subscribers.
final class EventCounters {
    let published: Counter
    let relayed: Counter
    let deliveries: Counter

    init(_ m: MetricsRegistry) {
        published = m.counter("runwire_events_published_total", help: "Events published on this instance.")
        deliveries = m.counter("runwire_event_deliveries_total", help: "Event frames handed to subscriber sockets.")
        relayed = m.counter("runwire_events_relayed_total", help: "Events received from Redis (or from the other loops of this process).")
    }
}
