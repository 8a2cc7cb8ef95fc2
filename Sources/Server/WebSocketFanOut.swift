import PubSub
import WebSocket
#if canImport(Glibc)
import Glibc
#endif

/// What an event is on a WebSocket: an unmasked text frame whose payload is the event message
/// (RFC 6455 §5.2). The plain frame is the message with its header written into the event's
/// headroom — header and message are one range, shared by every subscriber; the
/// permessage-deflate frame (RFC 7692 §7.2.1, RSV1) is made once per event, on first need.
enum EventFrames {
    /// The event's slot for its deflated frame.
    static let deflatedKey = EncodingKey.register()

    /// The plain frame.
    @inline(__always)
    static func plain(_ e: Event) -> UnsafeRawBufferPointer {
        let n = e.message.count
        return e.framed(headerLength: FrameEncoder.headerLength(payloadLength: n, masked: false)) {
            FrameEncoder.writeHeader(into: $0, opcode: .text, payloadLength: n)
        }
    }

    /// The deflated frame, or nil when compressing does not make it shorter.
    static func deflated(_ e: Event, using compressor: DeflateCompressor) -> UnsafeRawBufferPointer? {
        e.encoded(deflatedKey) { e in
            let plainLength = FrameEncoder.headerLength(payloadLength: e.message.count, masked: false) + e.message.count
            guard let packed = compressor.compress(e.message) else { return nil }
            let header = FrameEncoder.headerLength(payloadLength: packed.count, masked: false)
            guard header + packed.count < plainLength else { return nil }
            let out = Event.encodingBuffer(count: header + packed.count)
            FrameEncoder.writeHeader(into: out.baseAddress!, rsv1: true, opcode: .text, payloadLength: packed.count)
            (out.baseAddress! + header).copyMemory(from: packed.baseAddress!, byteCount: packed.count)
            return out
        }
    }
}

/// The iovecs of the batch being fanned out on one loop — one list of plain frames, one of
/// deflated ones (built on first need) — so each subscriber's `writev` points at the shared
/// frames and nothing is copied or built per subscriber. Keyed by the batch's serial.
final class FanOutFrames {
    private var plain = UnsafeMutableBufferPointer<iovec>.allocate(capacity: 64)
    private var packed = UnsafeMutableBufferPointer<iovec>.allocate(capacity: 64)
    private var plainSerial: UInt64 = 0, packedSerial: UInt64 = 0
    private var plainTotal = 0, packedTotal = 0

    deinit {
        plain.deallocate()
        packed.deallocate()
    }

    private static func fit(_ list: inout UnsafeMutableBufferPointer<iovec>, _ n: Int) {
        if list.count < n {
            list.deallocate()
            list = .allocate(capacity: n * 2)
        }
    }

    /// The plain frames of `batch` and their total length.
    @inline(__always)
    func plain(_ batch: FanOutBatch) -> (UnsafeMutableBufferPointer<iovec>, Int) {
        if plainSerial != batch.serial { buildPlain(batch) }
        return (plain, plainTotal)
    }

    private func buildPlain(_ batch: FanOutBatch) {
        Self.fit(&plain, batch.events.count)
        var total = 0
        for (i, e) in batch.events.enumerated() {
            let f = EventFrames.plain(e)
            plain[i] = iovec(iov_base: UnsafeMutableRawPointer(mutating: f.baseAddress), iov_len: f.count)
            total += f.count
        }
        plainTotal = total
        plainSerial = batch.serial
    }

    /// The deflated frames of `batch` (the plain one where compressing does not pay).
    func deflated(_ batch: FanOutBatch, using compressor: DeflateCompressor) -> (UnsafeMutableBufferPointer<iovec>, Int) {
        if packedSerial != batch.serial {
            Self.fit(&packed, batch.events.count)
            var total = 0
            for (i, e) in batch.events.enumerated() {
                let f = EventFrames.deflated(e, using: compressor) ?? EventFrames.plain(e)
                packed[i] = iovec(iov_base: UnsafeMutableRawPointer(mutating: f.baseAddress), iov_len: f.count)
                total += f.count
            }
            packedTotal = total
            packedSerial = batch.serial
        }
        return (packed, packedTotal)
    }
}

/// A WebSocket's subscription to a run: PubSub says what it gets, this sends it on its socket.
/// The socket holds its subscriptions and each holds the socket; the socket removes them
/// (`Run.remove`) before it goes away, which ends both references.
final class WebSocketSubscription: Subscription {
    let socket: WebSocketConnection
    /// The socket agreed permessage-deflate with a window that fits the shared compressor.
    let compressed: Bool

    init(run: Run, socket: WebSocketConnection, compressed: Bool) {
        self.socket = socket
        self.compressed = compressed
        super.init(run: run)
    }

    override func send(_ batch: FanOutBatch, from first: Int) -> Int {
        socket.deliver(batch, from: first, compressed: compressed)
    }

    override func sendGap(from: Int64, to: Int64) {
        socket.sendGap(run, from: from, to: to)
    }
}
