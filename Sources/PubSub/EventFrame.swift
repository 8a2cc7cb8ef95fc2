import WebSocket
#if canImport(Glibc)
import Glibc
#endif

/// One published event, encoded once as a complete unmasked WebSocket text frame:
/// `{"type":"event","runId":"r1","seq":12,"time":"…","data":<published bytes verbatim>}`.
///
/// Immutable after creation, so the same bytes go to every subscriber (and into the history
/// JSON). A permessage-deflate variant is made at most once, on first need.
public final class EventFrame {
    /// The event's sequence number within its run.
    public let seq: Int64
    private let storage: UnsafeMutableRawPointer
    private let count: Int
    private let payloadOffset: Int
    private var compressedStorage: UnsafeMutableRawPointer?
    private var compressedCount = 0
    /// Set for frames that several loops share.
    private var compressLock: UnsafeMutablePointer<pthread_mutex_t>?

    /// Makes the frame safe to compress from several threads (call before it is shared).
    public func share() {
        guard compressLock == nil else { return }
        let m = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        pthread_mutex_init(m, nil)
        compressLock = m
    }

    private init(seq: Int64, storage: UnsafeMutableRawPointer, count: Int, payloadOffset: Int) {
        self.seq = seq
        self.storage = storage
        self.count = count
        self.payloadOffset = payloadOffset
    }

    deinit {
        storage.deallocate()
        compressedStorage?.deallocate()
        if let m = compressLock { pthread_mutex_destroy(m); m.deallocate() }
    }

    /// The whole frame: header and payload, ready to write.
    @inlinable public var frame: UnsafeRawBufferPointer { frameBytes }
    @usableFromInline var frameBytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: storage, count: count) }

    /// The event message JSON alone (what history responses embed).
    public var payload: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: storage + payloadOffset, count: count - payloadOffset)
    }

    /// Bytes this frame holds in memory (for history accounting).
    public var memoryBytes: Int { count + compressedCount + 64 }

    /// The frame compressed with permessage-deflate (RSV1 set), made once with `compressor`;
    /// nil when compression does not pay or fails (the plain frame is then sent).
    /// Several loops may ask at once (`LOOPS` > 1): the variant is made under the frame's lock,
    /// by whichever asks first, with its own loop's compressor.
    public func compressedFrame(using compressor: DeflateCompressor) -> UnsafeRawBufferPointer? {
        guard let m = compressLock else { return makeCompressed(compressor) }
        pthread_mutex_lock(m)
        defer { pthread_mutex_unlock(m) }
        return makeCompressed(compressor)
    }

    private func makeCompressed(_ compressor: DeflateCompressor) -> UnsafeRawBufferPointer? {
        if let c = compressedStorage { return compressedCount > 0 ? UnsafeRawBufferPointer(start: c, count: compressedCount) : nil }
        guard let packed = compressor.compress(payload), packed.count + 14 < count else {
            compressedStorage = .allocate(byteCount: 1, alignment: 1) // remember "not worth it"
            return nil
        }
        let mem = UnsafeMutableRawPointer.allocate(byteCount: packed.count + 14, alignment: 16)
        let h = FrameEncoder.writeHeader(into: mem, rsv1: true, opcode: .text, payloadLength: packed.count)
        (mem + h).copyMemory(from: packed.baseAddress!, byteCount: packed.count)
        compressedStorage = mem
        compressedCount = h + packed.count
        return UnsafeRawBufferPointer(start: mem, count: compressedCount)
    }

    /// Frames an event message that was encoded elsewhere (by the Redis publish script, in
    /// the same format): `message` is the whole JSON text.
    public static func wrap(seq: Int64, message: UnsafeRawBufferPointer) -> EventFrame {
        let header = FrameEncoder.headerLength(payloadLength: message.count, masked: false)
        let mem = UnsafeMutableRawPointer.allocate(byteCount: header + message.count, alignment: 16)
        FrameEncoder.writeHeader(into: mem, opcode: .text, payloadLength: message.count)
        if message.count > 0 { (mem + header).copyMemory(from: message.baseAddress!, byteCount: message.count) }
        return EventFrame(seq: seq, storage: mem, count: header + message.count, payloadOffset: header)
    }

    /// Encodes an event message around `data` (validated JSON, embedded byte for byte).
    /// `runId` must already be a valid id (no JSON escaping needed); `time` is the 24-byte
    /// ISO-8601 timestamp.
    public static func encode(runId: UnsafeRawBufferPointer, seq: Int64, time: UnsafeRawBufferPointer,
                              data: UnsafeRawBufferPointer) -> EventFrame {
        let prefix: StaticString = "{\"type\":\"event\",\"runId\":\""
        let seqText = DecimalDigits(seq)
        let payloadLength = prefix.utf8CodeUnitCount + runId.count + 8 + seqText.count + 9 + time.count + 9 + data.count + 1
        let header = FrameEncoder.headerLength(payloadLength: payloadLength, masked: false)
        let mem = UnsafeMutableRawPointer.allocate(byteCount: header + payloadLength, alignment: 16)
        FrameEncoder.writeHeader(into: mem, opcode: .text, payloadLength: payloadLength)
        var w = Writer(at: mem + header)
        w.put(prefix)
        w.put(runId)
        w.put("\",\"seq\":")
        seqText.write(&w)
        w.put(",\"time\":\"")
        w.put(time)
        w.put("\",\"data\":")
        w.put(data)
        w.put("}")
        precondition(w.at == mem + header + payloadLength, "event frame length mismatch")
        return EventFrame(seq: seq, storage: mem, count: header + payloadLength, payloadOffset: header)
    }
}

/// Sequential writes into preallocated memory.
struct Writer {
    var at: UnsafeMutableRawPointer
    init(at: UnsafeMutableRawPointer) { self.at = at }
    mutating func put(_ s: StaticString) {
        at.copyMemory(from: s.utf8Start, byteCount: s.utf8CodeUnitCount)
        at += s.utf8CodeUnitCount
    }
    mutating func put(_ b: UnsafeRawBufferPointer) {
        if b.count > 0 { at.copyMemory(from: b.baseAddress!, byteCount: b.count) }
        at += b.count
    }
    mutating func put(byte: UInt8) {
        at.storeBytes(of: byte, as: UInt8.self)
        at += 1
    }
}

/// The decimal digits of a non-negative integer, without allocation.
struct DecimalDigits {
    let value: Int64
    let count: Int
    init(_ v: Int64) {
        value = Swift.max(0, v)
        var n = 1
        var t = value
        while t >= 10 { t /= 10; n += 1 }
        count = n
    }
    func write(_ w: inout Writer) {
        var v = value
        var i = count
        while i > 0 {
            i -= 1
            (w.at + i).storeBytes(of: UInt8(48 + v % 10), as: UInt8.self)
            v /= 10
        }
        w.at += count
    }
}
