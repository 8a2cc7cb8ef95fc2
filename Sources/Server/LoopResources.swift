import HTTP1
import Reactor
import WebSocket

/// Scratch and shared state every connection of one loop uses in turn (never two at once:
/// one loop, one thread): the header slots the parser fills, the response writer with its
/// cached `Date`, the route table, the shared compressors, the fan-out's frame lists.
final class LoopResources {
    /// The route table, held as `Unmanaged` (released in `deinit`): the hot path calls it
    /// through `_withUnsafeGuaranteedRef`, where a stored reference was retained and released
    /// around every call (seen in callgrind: 2 per request).
    let routerRef: Unmanaged<Router<Endpoint>>
    /// Header slots for the request being parsed (reused by every request on this loop).
    let slots: UnsafeMutableBufferPointer<HTTPHeaderSlot>
    var writer = ResponseWriter()
    /// Scratch list of event ranges for publish requests (reused).
    var eventRanges: [Range<Int>] = []
    /// The frames of the run being fanned out, as iovecs shared by its WebSocket subscribers.
    let frames = FanOutFrames()
    /// One compressor per window size, shared by every socket on the loop: the server always
    /// compresses without context takeover, so a message is compressed once whoever gets it.
    private var compressors: [DeflateCompressor?] = Array(repeating: nil, count: 16)

    static let headerSlots = 100

    init(config: Config) {
        routerRef = .passRetained(Endpoint.makeRouter(config))
        slots = .allocate(capacity: Self.headerSlots)
        slots.initialize(repeating: HTTPHeaderSlot())
    }

    deinit {
        slots.deallocate()
        routerRef.release()
    }

    /// The shared compressor for a negotiated `server_max_window_bits`.
    func compressor(windowBits: Int) -> DeflateCompressor {
        let bits = Swift.min(Swift.max(windowBits, 9), 15)
        if let c = compressors[bits] { return c }
        let c = DeflateCompressor(windowBits: bits, noContextTakeover: true, retainsStream: true)
        compressors[bits] = c
        return c
    }
}
