import WebSocket

/// The limits and timeouts connections apply, read once from the configuration.
struct Limits: Sendable {
    let maxHeaderBytes: Int
    let headerTimeout: Double
    let idleTimeout: Double
    /// Request bodies up to this size are read and dropped after an error answer that keeps
    /// the connection (404, 405, 401, …); larger ones close it after the answer.
    let discardBodyBytes: Int
    /// Answers a connection may have started and not yet written (later requests wait).
    let pipelineDepth: Int
    let allowedOrigins: [String]
    let wsMaxMessageBytes: Int
    let wsPingInterval: Double
    let wsMaxQueuedBytes: Int
    let wsMaxSubscriptions: Int
    let deflatePolicy: DeflatePolicy

    init(_ config: Config) {
        maxHeaderBytes = config.maxHeaderBytes
        headerTimeout = config.headerTimeout
        idleTimeout = config.idleTimeout
        discardBodyBytes = 1 << 20
        pipelineDepth = 16
        allowedOrigins = config.allowedOrigins
        wsMaxMessageBytes = config.wsMaxMessageBytes
        wsPingInterval = config.wsPingInterval
        wsMaxQueuedBytes = config.wsMaxQueuedBytes
        wsMaxSubscriptions = config.wsMaxSubscriptions
        deflatePolicy = DeflatePolicy(enabled: config.wsDeflate)
    }
}
