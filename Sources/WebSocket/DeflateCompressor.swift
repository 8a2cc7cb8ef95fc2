import CShimZlib

/// Compresses whole messages for permessage-deflate (RFC 7692 §7.2.1).
///
/// Not tied to a connection: with no context takeover (the default policy) one compressor
/// per thread compresses a publish once, and the same bytes go to every subscriber in a
/// frame with RSV1 set. With context takeover the stream carries history between messages,
/// so each connection needs its own compressor.
///
/// The zlib stream is created on first use. Without context takeover it is freed after
/// every message (or reset, when `retainsStream` — cheaper for a busy shared compressor), so
/// an idle owner holds only the reusable output buffer; `release()` frees that too.
public final class DeflateCompressor {
    /// The LZ77 window, 9...15 (RFC 7692 §7.1.2.1 `server_max_window_bits` for a server).
    public let windowBits: Int
    /// When true, messages do not reference earlier ones (RFC 7692 §7.1.1).
    public let noContextTakeover: Bool
    /// Keep the zlib stream allocated (reset) between messages without context takeover.
    public let retainsStream: Bool
    let level: Int32
    let memoryLevel: Int32
    var stream: OpaquePointer?
    var output = MessageBuffer()

    /// A compressor. `windowBits` is clamped to 9...15: zlib turns a raw 8-bit window into 9.
    public init(windowBits: Int = 15, noContextTakeover: Bool = true, retainsStream: Bool = false,
                level: Int = 6, memoryLevel: Int = 8) {
        self.windowBits = min(max(windowBits, 9), 15)
        self.noContextTakeover = noContextTakeover
        self.retainsStream = retainsStream
        self.level = Int32(level)
        self.memoryLevel = Int32(memoryLevel)
    }

    deinit { CShim_z_free(stream) }

    /// Whether a zlib stream is currently allocated.
    public var holdsStream: Bool { stream != nil }

    /// Compresses one whole message and returns the payload to send (RFC 7692 §7.2.1: deflate,
    /// flush with Z_SYNC_FLUSH, drop the trailing `00 00 ff ff`). The bytes are valid until the
    /// next call or `release()`; nil when zlib fails (out of memory).
    public func compress(_ message: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
        if stream == nil {
            stream = CShim_deflate_new(level, -Int32(windowBits), memoryLevel)
            if stream == nil { return nil }
        }
        output.removeAll()
        output.reserve(message.count &+ message.count / 8 &+ 64)
        var offset = 0
        while true {
            let spare = output.spare
            var consumed = 0
            var produced = 0
            let rc = CShim_z_deflate(stream, message.baseAddress.map { $0 + offset }, message.count &- offset,
                                     spare.baseAddress, spare.count, Int32(CShim_Z_SYNC_FLUSH), &consumed, &produced)
            offset &+= consumed
            output.count &+= produced
            guard rc == CShim_Z_OK || rc == CShim_Z_BUF_ERROR else {
                dropStream()
                return nil
            }
            // Z_SYNC_FLUSH is complete once all input is in and zlib left output space unused.
            if offset == message.count && produced < spare.count { break }
            output.reserve(output.capacity &* 2)
        }
        // RFC 7692 §7.2.1: remove the 4 octets 0x00 0x00 0xff 0xff at the tail end.
        if output.count >= 4, let base = output.base,
           base.loadUnaligned(fromByteOffset: output.count &- 4, as: UInt32.self) == UInt32(bigEndian: 0x0000_FFFF) {
            output.count &-= 4
        }
        if noContextTakeover {
            if retainsStream { _ = CShim_z_reset(stream) } else { dropStream() }
        }
        return output.bytes
    }

    /// Frees the zlib stream and the output buffer (context, if any, is lost).
    public func release() {
        dropStream()
        output.release()
    }

    func dropStream() {
        CShim_z_free(stream)
        stream = nil
    }
}
