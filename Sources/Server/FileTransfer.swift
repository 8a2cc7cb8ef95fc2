import Artifacts
import Reactor
#if canImport(Glibc)
import Glibc
#endif

/// The body of a signed-file response, after its head was queued.
///
/// Stored bytes sent as they are go out with `sendfile` from the page cache: a few MiB per
/// loop iteration, then (or on EAGAIN) the socket's write watcher resumes it through
/// `drained()`, so one big download never stalls the loop. A gzip-stored trace for a client
/// without gzip is inflated on the worker pool, 256 KiB at a time, the next piece only once
/// the previous one left the output buffer (bounded memory).
final class FileTransfer: @unchecked Sendable { // confined to the loop's thread
    static let sendfileStep = 1 << 20
    static let budgetPerIteration = 4 << 20
    static let inflateChunk = 256 * 1024

    private unowned let conn: HTTPConnection
    private let fd: Int32
    private var offset: Int64
    private let end: Int64
    private var reader: ChunkReader?
    private var skip: Int64
    private var remaining: Int64
    private var chunk: ByteChunk?
    private var jobRunning = false
    private var closed = false

    /// Sends `fd[offset..<end]` as it is.
    init(conn: HTTPConnection, fd: Int32, offset: Int64, end: Int64) {
        self.conn = conn
        self.fd = fd
        self.offset = offset
        self.end = end
        reader = nil
        skip = 0
        remaining = end - offset
    }

    /// Sends `length` inflated bytes from `first` of the gzip file `fd`.
    init(conn: HTTPConnection, gzipFD fd: Int32, first: Int64, length: Int64) {
        self.conn = conn
        self.fd = fd
        offset = 0
        end = 0
        reader = ChunkReader(gzip: GzipReader(fd: fd))
        skip = first
        remaining = length
        chunk = ByteChunk(capacity: Self.inflateChunk)
    }

    /// Moves the body on; called once the head is flushed (from `drained()`).
    func pump() {
        guard !closed else { return }
        if chunk == nil { sendStored() } else { inflateNext() }
    }

    private func sendStored() {
        var budget = Self.budgetPerIteration
        while offset < end && budget > 0 {
            var off = off_t(offset)
            let n = sendfile(conn.fd, fd, &off, min(Int(end - offset), Self.sendfileStep, budget))
            if n > 0 {
                offset = Int64(off)
                budget -= n
                continue
            }
            if n < 0 && errno == EINTR { continue }
            if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { break }
            if n < 0 && (errno == EINVAL || errno == ENOSYS) && reader == nil {
                // No sendfile from this file system: read it on the worker pool instead.
                reader = ChunkReader(fd: fd, offset: offset)
                remaining = end - offset
                chunk = ByteChunk(capacity: Self.inflateChunk)
                inflateNext()
                return
            }
            conn.close() // the peer is gone, or the file shrank under us: the length cannot be kept
            return
        }
        if offset < end {
            conn.deadline = conn.loop.now + conn.ctx.idleTimeout // a reader that stops is cut off
            conn.awaitWritable()
            return
        }
        finish()
    }

    private func inflateNext() {
        guard !jobRunning else { return }
        if remaining == 0 { finish(); return }
        guard let reader, let chunk else { return }
        jobRunning = true
        let want = Int(min(remaining, Int64(chunk.capacity)))
        let toSkip = skip
        skip = 0
        conn.ctx.server.pool.submit(on: conn.loop, { () -> Int in
            var skip = toSkip
            while skip > 0 {
                let n = reader.read(into: chunk.base, capacity: Int(min(skip, Int64(chunk.capacity))))
                if n <= 0 { return -1 }
                skip -= Int64(n)
            }
            let n = reader.read(into: chunk.base, capacity: want)
            chunk.count = max(0, n)
            return n
        }) { [self] n in
            jobRunning = false
            if closed { Glibc.close(fd); return }
            guard n > 0 else { conn.close(); return } // corrupt or short: the promised length cannot be kept
            remaining -= Int64(n)
            conn.prepareOutput()
            conn.output.append(chunk.bytes)
            conn.deadline = conn.loop.now + conn.ctx.idleTimeout
            conn.markForFlush()
        }
    }

    /// Where pooled bytes come from: inflated gzip, or plain reads from an offset.
    final class ChunkReader: @unchecked Sendable { // used by one worker job at a time
        private let gzip: GzipReader?
        private let fd: Int32
        private var offset: Int64
        init(gzip: GzipReader) { self.gzip = gzip; fd = -1; offset = 0 }
        init(fd: Int32, offset: Int64) { gzip = nil; self.fd = fd; self.offset = offset }

        func read(into buf: UnsafeMutableRawPointer, capacity: Int) -> Int {
            if let gzip { return gzip.read(into: buf, capacity: capacity) }
            var n: Int
            repeat { n = pread(fd, buf, capacity, off_t(offset)) } while n < 0 && errno == EINTR
            if n > 0 { offset += Int64(n) }
            return n
        }
    }

    private func finish() {
        guard !closed else { return }
        closed = true
        Glibc.close(fd)
        conn.transferFinished()
    }

    /// The connection closed first.
    func cancel() {
        guard !closed else { return }
        closed = true
        if !jobRunning { Glibc.close(fd) } // else the job's completion closes it
    }
}
