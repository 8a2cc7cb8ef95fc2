import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// One published event of a run, kept once: its `seq` and its event message, the JSON text
/// `{"type":"event","runId":"r1","seq":12,"time":"…","data":<published bytes verbatim>}`
/// that history answers embed and every transport carries.
///
/// Immutable once made, so loops and subscribers share it without copies. PubSub knows no
/// wire format: what a transport sends is made by that transport, lazily and at most once per
/// event, and then shared by every subscriber of every loop —
/// - a **frame header** of up to `headroom` bytes, written into the room kept right before the
///   message, so header and message go out as one contiguous range (the WebSocket frame);
/// - up to `EncodingKey.capacity` **encodings** in memory of their own (the deflated WebSocket
///   frame; the next transport's form).
///
/// Both are made under a one-time claim (an atomic state per part): the first thread to need
/// a part makes it, one arriving meanwhile waits for it, and afterwards a read is one atomic
/// load. No lock is allocated per event.
public final class Event {
    /// Bytes kept in front of the message for one transport's frame header.
    public static let headroom = 16

    /// The event's sequence number within its run.
    public let seq: Int64
    private let storage: UnsafeMutableRawPointer
    private let messageCount: Int
    /// 0: no header yet; -1: being written; n > 0: the header is the `n` bytes before the message.
    private let header = Atomic<Int>(0)
    /// Per encoding: 0 none yet, 1 being made, 2 made but not worth it (nil), else the address
    /// of a block `[count: Int][bytes]`.
    private let encoding0 = Atomic<UInt>(0)
    private let encoding1 = Atomic<UInt>(0)

    private init(seq: Int64, messageCount: Int) {
        self.seq = seq
        self.messageCount = messageCount
        storage = .allocate(byteCount: Event.headroom + messageCount, alignment: 16)
    }

    deinit {
        let s0 = encoding0.load(ordering: .acquiring), s1 = encoding1.load(ordering: .acquiring)
        if s0 > 2 { UnsafeMutableRawPointer(bitPattern: s0)?.deallocate() }
        if s1 > 2 { UnsafeMutableRawPointer(bitPattern: s1)?.deallocate() }
        storage.deallocate()
    }

    /// The event message (what history answers list and transports carry).
    @inline(__always)
    public var message: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: storage + Event.headroom, count: messageCount)
    }

    /// Bytes this event holds in memory (for history accounting).
    public var memoryBytes: Int { Event.headroom + messageCount + 96 }

    // MARK: Making events

    /// The event message around `data` (validated JSON, embedded byte for byte). `runId` must
    /// be a valid id (no escaping needed); `time` is the 24-byte ISO-8601 timestamp.
    public static func make(runId: UnsafeRawBufferPointer, seq: Int64, time: UnsafeRawBufferPointer,
                            data: UnsafeRawBufferPointer) -> Event {
        let prefix: StaticString = "{\"type\":\"event\",\"runId\":\""
        let seqText = DecimalDigits(seq)
        let count = prefix.utf8CodeUnitCount + runId.count + 8 + seqText.count + 9 + time.count + 9 + data.count + 1
        let e = Event(seq: seq, messageCount: count)
        var w = Writer(at: e.storage + Event.headroom)
        w.put(prefix)
        w.put(runId)
        w.put("\",\"seq\":")
        seqText.write(&w)
        w.put(",\"time\":\"")
        w.put(time)
        w.put("\",\"data\":")
        w.put(data)
        w.put("}")
        precondition(w.at == e.storage + Event.headroom + count, "event message length mismatch")
        return e
    }

    /// An event whose message was made elsewhere in the same format (by the Redis publish
    /// script): `message` is the whole JSON text.
    public static func wrap(seq: Int64, message: UnsafeRawBufferPointer) -> Event {
        let e = Event(seq: seq, messageCount: message.count)
        if message.count > 0 { (e.storage + Event.headroom).copyMemory(from: message.baseAddress!, byteCount: message.count) }
        return e
    }

    // MARK: What transports make of it

    /// The message with a frame header of `length` (≤ `headroom`) bytes right before it, as
    /// one range. `write` puts the header at the address it gets; it runs once per event —
    /// every later call returns the same bytes — so one transport only may use this (the
    /// WebSocket frame); others use `encoded(_:make:)`.
    @inline(__always)
    public func framed(headerLength length: Int, write: (UnsafeMutableRawPointer) -> Void) -> UnsafeRawBufferPointer {
        let n = header.load(ordering: .acquiring)
        if n > 0 { return UnsafeRawBufferPointer(start: storage + Event.headroom - n, count: n + messageCount) }
        return makeHeader(length, write)
    }

    private func makeHeader(_ length: Int, _ write: (UnsafeMutableRawPointer) -> Void) -> UnsafeRawBufferPointer {
        precondition(length > 0 && length <= Event.headroom, "a frame header must fit the headroom")
        if header.compareExchange(expected: 0, desired: -1, ordering: .acquiring).exchanged {
            write(storage + Event.headroom - length)
            header.store(length, ordering: .releasing)
            return UnsafeRawBufferPointer(start: storage + Event.headroom - length, count: length + messageCount)
        }
        var n = header.load(ordering: .acquiring)
        while n <= 0 { sched_yield(); n = header.load(ordering: .acquiring) } // another loop writes it now
        return UnsafeRawBufferPointer(start: storage + Event.headroom - n, count: n + messageCount)
    }

    /// The encoding `key` of this event, made once with `make`: it gets the event and returns
    /// memory from `encodingBuffer(count:)` that it filled, or nil when this event has no such
    /// form (compression would not pay; nil is remembered too). The bytes live as long as the
    /// event.
    public func encoded(_ key: EncodingKey, make: (Event) -> UnsafeMutableRawBufferPointer?) -> UnsafeRawBufferPointer? {
        key.index == 0 ? encoded(encoding0, make) : encoded(encoding1, make)
    }

    /// Memory for an encoding of `count` bytes, for `make` of `encoded(_:make:)` to fill and
    /// return (the event frees it; a `make` that gives up frees it with `discard`).
    public static func encodingBuffer(count: Int) -> UnsafeMutableRawBufferPointer {
        let block = UnsafeMutableRawPointer.allocate(byteCount: MemoryLayout<Int>.size + count, alignment: 16)
        block.storeBytes(of: count, as: Int.self)
        return UnsafeMutableRawBufferPointer(start: block + MemoryLayout<Int>.size, count: count)
    }

    /// Frees a buffer from `encodingBuffer(count:)` that was not returned.
    public static func discard(_ buffer: UnsafeMutableRawBufferPointer) {
        (buffer.baseAddress! - MemoryLayout<Int>.size).deallocate()
    }

    private func encoded(_ state: borrowing Atomic<UInt>, _ make: (Event) -> UnsafeMutableRawBufferPointer?) -> UnsafeRawBufferPointer? {
        var s = state.load(ordering: .acquiring)
        if s == 0 && state.compareExchange(expected: 0, desired: 1, ordering: .acquiring).exchanged {
            var made: UInt = 2
            if let bytes = make(self), let start = bytes.baseAddress {
                made = UInt(bitPattern: start - MemoryLayout<Int>.size)
            }
            state.store(made, ordering: .releasing)
            s = made
        }
        while s == 0 || s == 1 { sched_yield(); s = state.load(ordering: .acquiring) } // being made by another loop
        guard s > 2, let block = UnsafeRawPointer(bitPattern: s) else { return nil }
        return UnsafeRawBufferPointer(start: block + MemoryLayout<Int>.size, count: block.load(as: Int.self))
    }
}

/// Names one of an event's encoding slots. A transport takes one at start-up (a `static let`),
/// so two transports never share a slot.
public struct EncodingKey: Sendable {
    /// How many encodings an event can hold.
    public static let capacity = 2
    private static let next = Atomic<Int>(0)
    let index: Int

    /// Takes the next free slot (at most `capacity` per process).
    public static func register() -> EncodingKey {
        let i = next.wrappingAdd(1, ordering: .relaxed).oldValue
        precondition(i < capacity, "more transports than Event has encoding slots")
        return EncodingKey(index: i)
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
