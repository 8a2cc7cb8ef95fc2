// The container stack of the iterative validator: one bit per open container (1 = object,
// 0 = array) in 64 bytes held inline, so nesting costs no allocation and no recursion.

/// A fixed 512-level stack of "is this open container an object?" bits.
struct JSONDepthStack {
    /// Levels the stack can hold: 8 words of 64 bits.
    static var capacity: Int { 512 }

    /// The bits, level `n` at bit `n % 64` of word `n / 64`.
    private var words: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)

    /// Records whether the container at `level` (0-based, `< capacity`) is an object.
    @inline(__always)
    mutating func set(_ level: Int, isObject: Bool) {
        let offset = (level &>> 6) &* 8
        let bit = UInt64(1) &<< UInt64(level & 63)
        withUnsafeMutableBytes(of: &words) { raw in
            let word = raw.load(fromByteOffset: offset, as: UInt64.self)
            raw.storeBytes(of: isObject ? word | bit : word & ~bit, toByteOffset: offset, as: UInt64.self)
        }
    }

    /// Whether the container at `level` (set earlier) is an object.
    @inline(__always)
    func isObject(_ level: Int) -> Bool {
        let offset = (level &>> 6) &* 8
        return withUnsafeBytes(of: words) { raw in
            (raw.load(fromByteOffset: offset, as: UInt64.self) &>> UInt64(level & 63)) & 1 != 0
        }
    }
}
