/// A growable byte buffer with a read and a write index, owned by exactly one place.
///
/// It is `~Copyable` so two owners can never free the same memory; the memory is allocated
/// lazily (an idle socket holds none) and kept across uses, so a steady state allocates nothing.
public struct ByteBuffer: ~Copyable {
    @usableFromInline var storage: UnsafeMutableRawPointer?
    @usableFromInline var storageCapacity: Int = 0
    /// The allocation (nil while nothing was ever buffered or after `releaseIfEmpty`).
    public var base: UnsafeMutableRawPointer? { storage }
    /// Bytes allocated.
    public var capacity: Int { storageCapacity }
    /// Bytes before `readIndex` are consumed; `readIndex..<writeIndex` are readable.
    public var readIndex: Int = 0
    /// Bytes at and after `writeIndex` are free.
    public var writeIndex: Int = 0

    public init() {}

    deinit { storage?.deallocate() }

    /// Number of readable bytes.
    @inlinable @inline(__always) public var readableCount: Int { writeIndex - readIndex }
    @inlinable @inline(__always) public var isEmpty: Bool { writeIndex == readIndex }

    /// The readable bytes; valid until the next mutation.
    @inlinable @inline(__always) public var readable: UnsafeMutableRawBufferPointer {
        guard let base = storage else { return UnsafeMutableRawBufferPointer(start: nil, count: 0) }
        return UnsafeMutableRawBufferPointer(start: base + readIndex, count: writeIndex - readIndex)
    }

    /// Makes room for `count` more bytes after `writeIndex` (compacting consumed bytes first)
    /// and returns the writable region.
    @inlinable @inline(__always)
    public mutating func reserve(_ count: Int) -> UnsafeMutableRawPointer {
        if storageCapacity &- writeIndex >= count, let storage { return storage + writeIndex }
        return grow(count)
    }

    /// The slow path of `reserve`: compact or reallocate.
    @usableFromInline
    mutating func grow(_ count: Int) -> UnsafeMutableRawPointer {
        let capacity = storageCapacity
        if readIndex > 0, let base = storage {
            let live = writeIndex - readIndex
            if live > 0 { base.copyMemory(from: base + readIndex, byteCount: live) }
            readIndex = 0
            writeIndex = live
            if capacity - writeIndex >= count { return base + writeIndex }
        }
        var newCapacity = Swift.max(capacity * 2, 1024)
        while newCapacity - writeIndex < count { newCapacity *= 2 }
        let fresh = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 16)
        if let base = storage {
            if writeIndex > 0 { fresh.copyMemory(from: base, byteCount: writeIndex) }
            base.deallocate()
        }
        storage = fresh
        storageCapacity = newCapacity
        return fresh + writeIndex
    }

    /// Appends raw bytes.
    @inlinable @inline(__always)
    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        let dst = reserve(bytes.count)
        dst.copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
        writeIndex += bytes.count
    }

    /// Appends the bytes of a static string (headers, status lines) without creating a String.
    @inlinable @inline(__always)
    public mutating func append(_ s: StaticString) {
        append(UnsafeRawBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }

    /// Appends one byte.
    @inlinable @inline(__always)
    public mutating func append(byte: UInt8) {
        reserve(1).storeBytes(of: byte, as: UInt8.self)
        writeIndex += 1
    }

    /// Appends a non-negative decimal integer.
    @inlinable
    public mutating func append(decimal value: Int) {
        var v = value < 0 ? 0 : value
        var digits = 1
        var t = v
        while t >= 10 { t /= 10; digits += 1 }
        let dst = reserve(digits)
        var i = digits
        repeat {
            i -= 1
            dst.storeBytes(of: UInt8(truncatingIfNeeded: 48 + v % 10), toByteOffset: i, as: UInt8.self)
            v /= 10
        } while i > 0
        writeIndex += digits
    }

    /// Appends the UTF-8 of a String (off the hot path: error bodies, JSON built once).
    public mutating func append(string: String) {
        var s = string
        s.withUTF8 { append(UnsafeRawBufferPointer($0)) }
    }

    /// Marks `count` readable bytes consumed; resets the indices when empty.
    @inlinable @inline(__always)
    public mutating func consume(_ count: Int) {
        readIndex += count
        if readIndex >= writeIndex { readIndex = 0; writeIndex = 0 }
    }

    /// Drops all bytes, keeping the allocation.
    @inline(__always)
    public mutating func clear() { readIndex = 0; writeIndex = 0 }

    /// Takes `memory` (of `capacity` bytes) as this buffer's storage; the buffer must have none.
    public mutating func adopt(_ memory: UnsafeMutableRawPointer, capacity: Int) {
        precondition(storage == nil, "adopt needs an empty buffer")
        storage = memory
        storageCapacity = capacity
        readIndex = 0
        writeIndex = 0
    }

    /// When empty, gives up its storage of exactly `capacity` bytes (for a pool to reuse) and
    /// returns it; storage of another size is freed instead. Nil when nothing was handed back.
    public mutating func surrender(ifCapacity capacity: Int) -> UnsafeMutableRawPointer? {
        guard readIndex == writeIndex, let base = storage else { return nil }
        guard storageCapacity == capacity else { releaseIfEmpty(); return nil }
        storage = nil
        storageCapacity = 0
        readIndex = 0
        writeIndex = 0
        return base
    }

    /// Frees the memory when nothing is buffered (idle sockets hold no buffer).
    public mutating func releaseIfEmpty() {
        guard readIndex == writeIndex, let base = storage else { return }
        base.deallocate()
        storage = nil
        storageCapacity = 0
        readIndex = 0
        writeIndex = 0
    }
}
