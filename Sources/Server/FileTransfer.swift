import Artifacts
import CShimSys
import Reactor
#if canImport(Glibc)
import Glibc
#endif

/// The body of a signed-file response, after its head was queued.
///
/// Stored bytes sent as they are go out with `sendfile` from the page cache: a few MiB per
/// loop iteration, then (or on EAGAIN) the socket's write watcher resumes it through
/// `drained()`, so one big download never stalls the loop. `sendfile` sends only bytes known
/// to be cached: each window of up to 4 MiB is checked first (`cachestat`, one call); from
/// the first window that is not all cached on, each window is read in on the worker pool
/// (one window ahead of the one being sent) before it is sent, so the loop does not wait for
/// the disk. A gzip-stored trace for a client without gzip is inflated on the worker pool,
/// 256 KiB at a time, the next piece only once the previous one left the output buffer
/// (bounded memory).
final class FileTransfer: @unchecked Sendable { // confined to the loop's thread
    static let sendfileStep = 1 << 20
    static let budgetPerIteration = 4 << 20
    static let inflateChunk = 256 * 1024
    static let cacheWindow: Int64 = 4 << 20

    private unowned let conn: HTTPConnection
    private let fd: Int32
    private var offset: Int64
    private let end: Int64
    /// `fd[offset..<cachedEnd]` is known to be in the page cache: `sendfile` sends no further.
    private var cachedEnd: Int64
    private var reader: ChunkReader?
    private var skip: Int64
    private var remaining: Int64
    private var chunk: ByteChunk?
    private var jobRunning = false
    /// A window was found uncached: from then on the pool reads every window, one ahead.
    private var cold = false
    private var closed = false

    /// Sends `fd[offset..<end]` as it is.
    init(conn: HTTPConnection, fd: Int32, offset: Int64, end: Int64) {
        self.conn = conn
        self.fd = fd
        self.offset = offset
        self.end = end
        cachedEnd = offset
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
        cachedEnd = 0
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
            if offset >= cachedEnd {
                if jobRunning { break } // this window is being read in; the job's end sends on
                let windowEnd = min(end, offset + Self.cacheWindow)
                guard !cold, CShim_file_cached(fd, offset, windowEnd - offset) == 1 else {
                    cold = true
                    readIn(upTo: windowEnd)
                    break
                }
                cachedEnd = windowEnd
            }
            var off = off_t(offset)
            let n = sendfile(conn.fd, fd, &off, min(Int(cachedEnd - offset), Self.sendfileStep, budget))
            if n > 0 {
                offset = Int64(off)
                budget -= n
                continue
            }
            if n < 0 && errno == EINTR { continue }
            if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { break }
            if n < 0 && (errno == EINVAL || errno == ENOSYS) && reader == nil && !jobRunning {
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
        if offset == end { return finish() }
        // A file found uncached: the pool reads the next window while this one is sent.
        if cold && cachedEnd < end && cachedEnd - offset <= Self.cacheWindow { readIn(upTo: min(end, cachedEnd + Self.cacheWindow)) }
        conn.deadline = conn.loop.now + conn.ctx.idleTimeout // a reader that stops is cut off
        if jobRunning && offset >= cachedEnd { return } // the read-in job's end resumes
        conn.awaitWritable() // also when the budget ran out exactly at a window's end
    }

    /// Reads `fd[cachedEnd..<windowEnd]` into the page cache on the worker pool (the bytes
    /// read are dropped), then sends on. One job at a time: the window being sent and at most
    /// the next one are read in. Once a transfer needed this, every later window goes through
    /// it too: a page the kernel is still reading ahead counts as cached to `cachestat` and
    /// `mincore` alike, and `sendfile` would wait for it on the loop; `pread` waits here.
    private func readIn(upTo windowEnd: Int64) {
        guard !jobRunning else { return }
        jobRunning = true
        let fd = fd, from = cachedEnd
        conn.ctx.server.pool.submit(on: conn.loop, { () -> Bool in
            let step = 256 * 1024
            let scratch = UnsafeMutableRawPointer.allocate(byteCount: step, alignment: 16)
            defer { scratch.deallocate() }
            var at = from
            while at < windowEnd {
                var n: Int
                repeat { n = pread(fd, scratch, Int(min(Int64(step), windowEnd - at)), off_t(at)) } while n < 0 && errno == EINTR
                if n <= 0 { return false } // a read error, or the file shrank under us
                at += Int64(n)
            }
            return true
        }) { [self] ok in
            jobRunning = false
            if closed { Glibc.close(fd); return }
            guard ok else { conn.close(); return } // the promised length cannot be kept
            conn.ctx.artifacts?.downloadDiskReads += 1
            cachedEnd = windowEnd
            sendStored()
        }
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
