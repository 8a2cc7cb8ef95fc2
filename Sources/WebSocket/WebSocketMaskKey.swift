import CShimCrypto

/// A masking key (RFC 6455 §5.3): four bytes XORed over the payload, cycling.
///
/// Stored as the four wire bytes loaded in native byte order, so loading it from a frame
/// header and storing it into one are plain unaligned 32-bit moves.
public struct WebSocketMaskKey: Sendable, Equatable {
    /// The four key bytes in wire order, as one native-endian load of them.
    public var nativeValue: UInt32

    /// A key from its native-endian load (what `loadUnaligned(as: UInt32.self)` gives).
    @inlinable
    public init(nativeValue: UInt32) { self.nativeValue = nativeValue }

    /// A key from its four bytes in wire order.
    @inlinable
    public init(_ b0: UInt8, _ b1: UInt8, _ b2: UInt8, _ b3: UInt8) {
        var value: UInt32 = 0
        withUnsafeMutableBytes(of: &value) { raw in
            raw[0] = b0; raw[1] = b1; raw[2] = b2; raw[3] = b3
        }
        nativeValue = value
    }

    /// A fresh key from the system CSPRNG (RFC 6455 §5.3: clients MUST pick an unpredictable
    /// key per frame). For load clients; servers never mask.
    public static func random() -> WebSocketMaskKey {
        var value: UInt32 = 0
        _ = withUnsafeMutableBytes(of: &value) { CShim_random_bytes($0.baseAddress, 4) }
        return WebSocketMaskKey(nativeValue: value)
    }

    /// The key as it would be if masking started `phase` bytes into the cycle (0...3).
    @inlinable
    func rotated(by phase: Int) -> UInt32 {
        let shift = UInt32(truncatingIfNeeded: (phase & 3) &* 8)
        if shift == 0 { return nativeValue }
        #if _endian(big)
        return nativeValue << shift | nativeValue >> (32 &- shift)
        #else
        return nativeValue >> shift | nativeValue << (32 &- shift)
        #endif
    }

    /// XORs the key over `bytes` in place (masking and unmasking are the same operation).
    ///
    /// `phase` is how many payload bytes preceded `bytes` in this frame (only `phase % 4`
    /// matters): a payload unmasked in several chunks continues the key cycle correctly.
    /// Works 8 bytes at a time with unaligned loads, then byte by byte for the tail.
    @inlinable
    public func apply(to bytes: UnsafeMutableRawBufferPointer, phase: Int = 0) {
        guard let base = bytes.baseAddress else { return }
        let count = bytes.count
        let key = rotated(by: phase)
        let wide = UInt64(key) | UInt64(key) << 32
        var i = 0
        while i &+ 8 <= count {
            let word = base.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            base.storeBytes(of: word ^ wide, toByteOffset: i, as: UInt64.self)
            i &+= 8
        }
        // The tail starts at a multiple of 8, so at phase 0 of the rotated key.
        var k = key
        while i < count {
            #if _endian(big)
            let kb = UInt8(truncatingIfNeeded: k >> 24)
            k = k << 8 | k >> 24
            #else
            let kb = UInt8(truncatingIfNeeded: k)
            k = k >> 8 | k << 24
            #endif
            let b = base.load(fromByteOffset: i, as: UInt8.self)
            base.storeBytes(of: b ^ kb, toByteOffset: i, as: UInt8.self)
            i &+= 1
        }
    }
}
