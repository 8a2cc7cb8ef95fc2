import HTTP1
import Reactor

/// What every connection on one loop shares: the router, the header slots the parser fills,
/// the response writer with its cached `Date`, limits and counters. Confined to the loop.
final class LoopContext {
    let loop: EventLoop
    unowned let server: RunwireServer
    let router: Router<Endpoint>
    /// Header slots for the request being parsed (reused by every request on this loop).
    let slots: UnsafeMutableBufferPointer<HTTPHeaderSlot>
    var writer = ResponseWriter()
    let maxHeaderBytes: Int
    let headerTimeout: Double
    let idleTimeout: Double
    var connections = 0
    var requests = 0
    var errors = 0

    init(loop: EventLoop, server: RunwireServer, config: Config) {
        self.loop = loop
        self.server = server
        router = Endpoint.makeRouter()
        slots = .allocate(capacity: 100)
        slots.initialize(repeating: HTTPHeaderSlot())
        maxHeaderBytes = config.maxHeaderBytes
        headerTimeout = config.headerTimeout
        idleTimeout = config.idleTimeout
    }

    deinit {
        slots.deallocate()
    }

    /// Takes a freshly accepted socket.
    func accept(_ fd: Int32) {
        let c = HTTPConnection(fd: fd, ctx: self)
        connections += 1
        c.start()
    }
}
