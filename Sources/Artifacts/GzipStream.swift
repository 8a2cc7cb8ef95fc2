import CShimZlib

/// Why a gzip stream did not finish.
public enum GzipFailure: Error, Equatable, CustomStringConvertible {
    /// The input step asked to stop (returned -2): the caller's choice, not an error.
    case stopped
    /// Reading, deflating or writing failed; the text says what.
    case failed(String)

    public var description: String {
        switch self {
        case .stopped: return "stopped"
        case .failed(let m): return m
        }
    }
}

/// Streaming gzip (RFC 1952) over caller-supplied read and write steps, in bounded buffers.
public enum GzipStream {
    /// Deflates everything `input` yields (bytes read into the buffer; 0 = end, -1 = error,
    /// -2 = stop) and hands each compressed block to `output`. Returns the compressed size.
    public static func deflate(level: Int32, chunk: Int = 256 * 1024,
                               input: (UnsafeMutableRawPointer, Int) -> Int,
                               output: (UnsafeRawBufferPointer) throws -> Void) -> Result<Int64, GzipFailure> {
        guard let z = CShim_deflate_new(level, 31, 8) else { return .failure(.failed("deflate: out of memory")) }
        defer { CShim_z_free(z) }
        let inBuf = UnsafeMutableRawPointer.allocate(byteCount: chunk, alignment: 16)
        let outBuf = UnsafeMutableRawPointer.allocate(byteCount: chunk, alignment: 16)
        defer { inBuf.deallocate(); outBuf.deallocate() }
        var total: Int64 = 0
        var finished = false
        while !finished {
            let n = input(inBuf, chunk)
            if n == -2 { return .failure(.stopped) }
            if n < 0 { return .failure(.failed("read the original failed")) }
            let flush = n == 0 ? Int32(CShim_Z_FINISH) : Int32(CShim_Z_NO_FLUSH)
            var offset = 0
            repeat {
                var consumed = 0, produced = 0
                let rc = CShim_z_deflate(z, inBuf + offset, n - offset, outBuf, chunk, flush, &consumed, &produced)
                offset += consumed
                if rc == Int32(CShim_Z_STREAM_ERROR) { return .failure(.failed("deflate: stream error")) }
                if produced > 0 {
                    do { try output(UnsafeRawBufferPointer(start: outBuf, count: produced)) } catch { return .failure(.failed("\(error)")) }
                    total += Int64(produced)
                }
                if rc == Int32(CShim_Z_STREAM_END) { finished = true; break }
                if offset == n && produced < chunk && flush != Int32(CShim_Z_FINISH) { break }
            } while true
        }
        return .success(total)
    }
}

/// Reads the inflated bytes of a gzip file in caller-sized pieces (bounded memory): the
/// compressor's verification and the on-the-fly download for clients without gzip.
/// Not thread-safe; the server uses it from one worker job at a time.
public final class GzipReader: @unchecked Sendable {
    private let fd: Int32
    private let z: OpaquePointer?
    private let inBuf: UnsafeMutableRawPointer
    private var inStart = 0, inEnd = 0
    private var ended = false
    private static let inCap = 64 * 1024
    /// Why `read` returned -1.
    public private(set) var failure: String?

    /// Reads from `fd` (not closed by the reader).
    public init(fd: Int32) {
        self.fd = fd
        z = CShim_inflate_new(31)
        inBuf = .allocate(byteCount: Self.inCap, alignment: 16)
    }

    deinit {
        CShim_z_free(z)
        inBuf.deallocate()
    }

    /// Fills up to `capacity` bytes of `buf`; returns the count, 0 at the end, -1 on corrupt
    /// or truncated input.
    public func read(into buf: UnsafeMutableRawPointer, capacity: Int) -> Int {
        guard z != nil else { failure = "inflate: out of memory"; return -1 }
        var produced = 0
        while produced < capacity && !ended {
            if inStart == inEnd {
                let n = FileIO.read(fd, inBuf, Self.inCap)
                if n < 0 { failure = "read error"; return -1 }
                if n == 0 { failure = "truncated gzip stream"; return -1 }
                inStart = 0
                inEnd = n
            }
            var consumed = 0, made = 0
            let rc = CShim_z_inflate(z, inBuf + inStart, inEnd - inStart, buf + produced, capacity - produced,
                                     Int32(CShim_Z_NO_FLUSH), &consumed, &made)
            inStart += consumed
            produced += made
            if rc == Int32(CShim_Z_STREAM_END) { ended = true; break }
            if rc != Int32(CShim_Z_OK) && rc != Int32(CShim_Z_BUF_ERROR) { failure = "inflate error \(rc)"; return -1 }
        }
        return produced
    }
}
