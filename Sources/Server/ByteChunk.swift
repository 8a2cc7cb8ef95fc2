/// A fixed-size byte block handed between the loop and a worker (one owner at a time: the
/// loop fills it, a worker job reads it, the completion gives it back).
final class ByteChunk: @unchecked Sendable {
    let base: UnsafeMutableRawPointer
    let capacity: Int
    var count = 0

    init(capacity: Int) {
        self.capacity = capacity
        base = .allocate(byteCount: capacity, alignment: 16)
    }

    deinit { base.deallocate() }

    var free: Int { capacity - count }
    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    func append(_ p: UnsafeRawPointer, _ n: Int) {
        (base + count).copyMemory(from: p, byteCount: n)
        count += n
    }
}
