/// A growable byte buffer that is reused between messages and can be released when idle.
///
/// Noncopyable so it owns its memory outright: no class, no reference counting, freed in
/// `deinit`. Grows by doubling (amortised O(1) appends); `removeAll()` keeps the capacity
/// for the next message, `release()` returns the memory so an idle socket holds none.
@usableFromInline
struct MessageBuffer: ~Copyable {
    @usableFromInline var base: UnsafeMutableRawPointer?
    @usableFromInline var capacity = 0
    @usableFromInline var count = 0

    @usableFromInline
    init() {}

    deinit { base?.deallocate() }

    /// The bytes written so far; valid until the next mutation.
    @usableFromInline
    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    /// Makes room for at least `total` bytes, preserving the contents. Grows by doubling
    /// unless `exactly`, which allocates `total` bytes (for hard memory bounds).
    @usableFromInline
    mutating func reserve(_ total: Int, exactly: Bool = false) {
        if total <= capacity { return }
        var newCapacity = exactly ? total : max(capacity &* 2, 256)
        while newCapacity < total { newCapacity &*= 2 }
        let newBase = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 16)
        if let base {
            if count > 0 { newBase.copyMemory(from: base, byteCount: count) }
            base.deallocate()
        }
        base = newBase
        capacity = newCapacity
    }

    /// Appends `bytes`.
    @usableFromInline
    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        guard let source = bytes.baseAddress, bytes.count > 0 else { return }
        reserve(count &+ bytes.count)
        (base! + count).copyMemory(from: source, byteCount: bytes.count)
        count &+= bytes.count
    }

    /// Free space after the contents (call `reserve` first); the caller then adds to `count`.
    @usableFromInline
    var spare: UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(start: base.map { $0 + count }, count: capacity &- count)
    }

    /// Empties the buffer, keeping its memory for reuse.
    @usableFromInline
    mutating func removeAll() { count = 0 }

    /// Empties the buffer and frees its memory.
    @usableFromInline
    mutating func release() {
        base?.deallocate()
        base = nil
        capacity = 0
        count = 0
    }
}
