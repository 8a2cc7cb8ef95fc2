import HTTP1

/// Who may publish and subscribe: the configured API keys (publishers, uploaders) and the
/// subscriber token secret.
struct Auth: Sendable {
    let apiKeys: [String]
    /// HS256 secret for subscriber tokens; nil = subscribing is open.
    let tokenSecret: String?

    init(_ config: Config) {
        apiKeys = config.apiKeys
        tokenSecret = config.tokenSecret
    }

    /// Whether the request carries a configured API key (`Authorization: Bearer K`,
    /// `X-API-Key: K`, or `apiKey=K` in the query): true when no keys are configured, nil
    /// when none is presented, false for a wrong one.
    func publisherKey(_ head: RequestHead, _ buf: UnsafeRawBufferPointer, slots: UnsafeBufferPointer<HTTPHeaderSlot>) -> Bool? {
        guard !apiKeys.isEmpty else { return true }
        var presented: UnsafeRawBufferPointer?
        if let auth = head.header("authorization", in: buf, slots: slots), auth.count > 7,
           auth.prefix(7).elementsEqual("Bearer ".utf8) {
            presented = UnsafeRawBufferPointer(rebasing: auth[7...])
        } else if let k = head.header("x-api-key", in: buf, slots: slots) {
            presented = k
        } else if let q = head.query(in: buf), let k = Query(bytes: q).value("apiKey") {
            presented = k
        }
        guard let presented else { return nil }
        return apiKeys.contains { presented.equalsSecret($0) }
    }

    /// Whether a request presents a valid publisher key while keys are configured (reading
    /// with a publisher key needs no subscriber token).
    func isPublisher(_ head: RequestHead, _ buf: UnsafeRawBufferPointer, slots: UnsafeBufferPointer<HTTPHeaderSlot>) -> Bool {
        !apiKeys.isEmpty && publisherKey(head, buf, slots: slots) == true
    }

    /// Checks a subscriber token for `runId` (nil when allowed: no TOKEN_SECRET, or valid).
    func refuseSubscriber(_ token: UnsafeRawBufferPointer?, runId: String) -> SubscriberToken.Refusal? {
        guard let secret = tokenSecret else { return nil }
        return SubscriberToken.verify(token, runId: runId, secret: secret, now: Timestamp.now())
    }
}
