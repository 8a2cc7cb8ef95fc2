import HTTP1
import Reactor
import WebSocket
import PubSub
import RedisBridge

/// What every connection on one loop shares: the router, the header slots the parser fills,
/// the response writer with its cached `Date`, limits and counters. Confined to the loop.
final class LoopContext: PrepareHook {
    let loop: EventLoop
    unowned let server: RunwireServer
    /// The route table and the hub are held as `Unmanaged` (released in `deinit`): hot paths
    /// call them through `_withUnsafeGuaranteedRef`, where a stored reference was retained and
    /// released around every call (seen in callgrind: 2 per request).
    let routerRef: Unmanaged<Router<Endpoint>>
    private var hubRef: Unmanaged<Hub>?
    /// The run event hub of this loop.
    var hub: Hub { hubRef!.takeUnretainedValue() }
    /// The hub across instances (with `REDIS_URL`), nil in embedded mode.
    var redis: RedisHub?
    /// Artifact endpoints' state on this loop (set by the server before the loop runs).
    var artifacts: ArtifactService?
    /// The loops of this process sharing one hub (`LOOPS` > 1), and this loop's place there.
    let bus: LoopBus?
    let loopIndex: Int
    private var deliveries: [LoopBus.Delivery] = []
    /// Deliveries may wait in this loop's inbox (set by its own publishes and by the bus's
    /// wake-up): `beforeFlush` takes the bus lock only then.
    var busPending = false
    /// Header slots for the request being parsed (reused by every request on this loop).
    let slots: UnsafeMutableBufferPointer<HTTPHeaderSlot>
    var writer = ResponseWriter()
    let maxHeaderBytes: Int
    let headerTimeout: Double
    let idleTimeout: Double
    var connections = 0
    var requests = 0
    var errors = 0
    /// Open WebSocket connections on this loop (`localConnections`).
    var webSockets = 0
    var wsProtocolErrors = 0
    let allowedOrigins: [String]
    let wsMaxMessageBytes: Int
    let wsPingInterval: Double
    let deflatePolicy: DeflatePolicy
    let wsMaxQueuedBytes: Int
    let wsMaxSubscriptions: Int
    let apiKeys: [String]
    /// HS256 secret for subscriber tokens; nil = subscribing is open.
    let tokenSecret: String?
    /// Scratch list of event ranges for publish requests (reused).
    var eventRanges: [Range<Int>] = []
    /// One compressor per window size, shared by every socket on the loop: the server always
    /// compresses without context takeover, so a message is compressed once whoever gets it.
    private var compressors: [DeflateCompressor?] = Array(repeating: nil, count: 16)

    init(loop: EventLoop, server: RunwireServer, config: Config, bus: LoopBus? = nil, index: Int = 0) {
        self.loop = loop
        self.server = server
        self.bus = bus
        loopIndex = index
        routerRef = .passRetained(Endpoint.makeRouter(config))
        allowedOrigins = config.allowedOrigins
        wsMaxMessageBytes = config.wsMaxMessageBytes
        wsPingInterval = config.wsPingInterval
        deflatePolicy = DeflatePolicy(enabled: config.wsDeflate)
        wsMaxQueuedBytes = config.wsMaxQueuedBytes
        wsMaxSubscriptions = config.wsMaxSubscriptions
        apiKeys = config.apiKeys
        tokenSecret = config.tokenSecret
        slots = .allocate(capacity: 100)
        slots.initialize(repeating: HTTPHeaderSlot())
        maxHeaderBytes = config.maxHeaderBytes
        headerTimeout = config.headerTimeout
        idleTimeout = config.idleTimeout
        super.init()
        hubRef = .passRetained(Hub(config: config, ctx: self))
        loop.prepareHook = self
        if let u = config.redisURL {
            redis = RedisHub(ctx: self, config: config,
                             endpoint: u)
            if config.useRedisWebSocket {
                hub.registry.mirrorsRemote = true
                hub.registry.origin = { _ in ("", 0) } // the mirror's first read from Redis fills both in
            }
        }
        if let bus {
            let me = LoopBound(value: Unmanaged.passUnretained(self)) // the loops outlive the bus's use
            bus.attach(loop, index: index) { me.value.takeUnretainedValue().busPending = true }
            hub.registry.origin = { [unowned loop] id in bus.state(of: id, now: loop.now) }
        }
    }

    /// Set by shutdown: the loop stops once every socket is closed or the grace has passed.
    var stopWhenIdleAfter: Double?

    override func beforeFlush() {
        redis?.link.flush() // commands of this iteration go out before the fan-out's writes
        if busPending { drainBus() }
        hubRef!._withUnsafeGuaranteedRef { $0.fanOut() }
        if let end = stopWhenIdleAfter, (loop.socketCount == 0 && artifacts?.busy != true) || loop.now >= end { loop.stop() }
    }

    deinit {
        loop.prepareHook = nil
        slots.deallocate()
        routerRef.release()
        hubRef?.release()
    }

    /// Applies what the loops published since the last drain (this loop's own publishes too:
    /// all in the bus's one order).
    func drainBus() {
        guard let bus else { return }
        busPending = false
        bus.drain(loopIndex, into: &deliveries)
        guard !deliveries.isEmpty else { return }
        let now = loop.now
        let h = hub
        for d in deliveries { h.apply(d, now: now) }
        deliveries.removeAll(keepingCapacity: true)
    }

    /// The shared compressor for a negotiated `server_max_window_bits`.
    func compressor(windowBits: Int) -> DeflateCompressor {
        let bits = Swift.min(Swift.max(windowBits, 9), 15)
        if let c = compressors[bits] { return c }
        let c = DeflateCompressor(windowBits: bits, noContextTakeover: true, retainsStream: true)
        compressors[bits] = c
        return c
    }

    /// Whether the request carries a configured API key (`Authorization: Bearer K`,
    /// `X-API-Key: K`, or `apiKey=K` in the query); true when no keys are configured.
    func hasPublisherKey(_ head: RequestHead, _ buf: UnsafeRawBufferPointer) -> Bool? {
        guard !apiKeys.isEmpty else { return true }
        let slots = UnsafeBufferPointer(self.slots)
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

    /// Checks a subscriber token for `runId` (nil when allowed: no TOKEN_SECRET, or valid).
    func refuseSubscriber(_ token: UnsafeRawBufferPointer?, runId: String) -> SubscriberToken.Refusal? {
        guard let secret = tokenSecret else { return nil }
        return SubscriberToken.verify(token, runId: runId, secret: secret, now: Timestamp.now())
    }

    /// Takes a freshly accepted socket.
    func accept(_ fd: Int32) {
        let c = HTTPConnection(fd: fd, ctx: self)
        connections += 1
        c.start()
    }
}
