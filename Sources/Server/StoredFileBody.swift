import Artifacts
import CShimSys
import Metrics
import Reactor
#if canImport(Glibc)
import Glibc
#endif

/// A stored file's bytes as they are (`fd[offset..<end]`), sent with `sendfile` from the page
/// cache: a few MiB per loop iteration, so one big download never stalls the loop.
///
/// `sendfile` sends only bytes known to be cached: each window of up to 4 MiB is checked first
/// (`cachestat`, one call); from the first window that is not all cached on, each window is
/// read in on the worker pool (one window ahead of the one being sent) before it is sent, so
/// the loop does not wait for the disk. A file system without `sendfile` is read on the pool
/// instead (`PooledBody`).
final class StoredFileBody: BodySource, @unchecked Sendable { // confined to the loop's thread
    static let sendfileStep = 1 << 20
    static let budgetPerIteration = 4 << 20
    static let cacheWindow: Int64 = 4 << 20

    private weak var owner: BodySourceOwner?
    private let pool: WorkerPool
    private let loop: EventLoop
    /// Windows read in because they were not in the page cache (this loop's counter).
    private let diskReads: Counter
    private let fd: Int32
    private var offset: Int64
    private let end: Int64
    /// `fd[offset..<cachedEnd]` is known to be in the page cache: `sendfile` sends no further.
    private var cachedEnd: Int64
    private var jobRunning = false
    /// A window was found uncached: from then on the pool reads every window, one ahead.
    private var cold = false
    private var closed = false
    /// Where the bytes come from once `sendfile` turned out not to work here.
    private var fallback: PooledBody?

    init(fd: Int32, offset: Int64, end: Int64, owner: BodySourceOwner, pool: WorkerPool, loop: EventLoop, diskReads: Counter) {
        self.fd = fd
        self.offset = offset
        self.end = end
        cachedEnd = offset
        self.owner = owner
        self.pool = pool
        self.loop = loop
        self.diskReads = diskReads
    }

    func pump(into socket: Int32, output: inout ByteBuffer) -> BodyProgress {
        if let fallback { return fallback.pump(into: socket, output: &output) }
        guard !closed else { return .failed }
        var budget = Self.budgetPerIteration
        while offset < end && budget > 0 {
            if offset >= cachedEnd {
                if jobRunning { return .waiting } // this window is being read in; the job's end resumes
                let windowEnd = min(end, offset + Self.cacheWindow)
                guard !cold, CShim_file_cached(fd, offset, windowEnd - offset) == 1 else {
                    cold = true
                    readIn(upTo: windowEnd)
                    return .waiting
                }
                cachedEnd = windowEnd
            }
            var off = off_t(offset)
            let n = sendfile(socket, fd, &off, min(Int(cachedEnd - offset), Self.sendfileStep, budget))
            if n > 0 {
                offset = Int64(off)
                budget -= n
                continue
            }
            if n < 0 && errno == EINTR { continue }
            if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { break }
            if n < 0 && (errno == EINVAL || errno == ENOSYS) && !jobRunning {
                // No sendfile from this file system: read it on the worker pool instead.
                let f = PooledBody(fd: fd, from: offset, length: end - offset, owner: owner, pool: pool, loop: loop)
                fallback = f
                closed = true // the fallback owns the file now
                return f.pump(into: socket, output: &output)
            }
            return .failed // the peer is gone, or the file shrank under us
        }
        if offset == end { finish(); return .finished }
        // A file found uncached: the pool reads the next window while this one is sent.
        if cold && cachedEnd < end && cachedEnd - offset <= Self.cacheWindow { readIn(upTo: min(end, cachedEnd + Self.cacheWindow)) }
        if jobRunning && offset >= cachedEnd { return .waiting } // the read-in job's end resumes
        return .blocked // also when the budget ran out exactly at a window's end
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
        pool.submit(on: loop, { () -> Bool in
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
            if ok {
                diskReads.add()
                cachedEnd = windowEnd
            } else {
                closed = true // the length cannot be kept: the next pump fails
                Glibc.close(fd)
            }
            owner?.bodyCanContinue()
        }
    }

    private func finish() {
        guard !closed else { return }
        closed = true
        Glibc.close(fd)
    }

    func cancel() {
        if let fallback { fallback.cancel(); return }
        guard !closed else { return }
        closed = true
        if !jobRunning { Glibc.close(fd) } // else the job's completion closes it
    }
}

/// Body bytes made on the worker pool, 256 KiB at a time, the next piece only once the
/// previous one left the output buffer (bounded memory): a gzip-stored trace inflated for a
/// client without gzip (skipping to a range's start), or plain reads of a stored file.
final class PooledBody: BodySource, @unchecked Sendable { // confined to the loop's thread
    static let chunkSize = 256 * 1024

    private weak var owner: BodySourceOwner?
    private let pool: WorkerPool
    private let loop: EventLoop
    private let fd: Int32
    private let reader: ChunkReader
    private var skip: Int64
    private var remaining: Int64
    private let chunk = ByteChunk(capacity: PooledBody.chunkSize)
    /// The last job's outcome, waiting to be handed to the output: bytes in `chunk`, or -1.
    private var ready: Int?
    private var jobRunning = false
    private var closed = false

    /// `length` inflated bytes from `first` of the gzip file `fd`.
    init(gzipFD fd: Int32, first: Int64, length: Int64, owner: BodySourceOwner?, pool: WorkerPool, loop: EventLoop) {
        self.fd = fd
        reader = ChunkReader(gzip: GzipReader(fd: fd))
        skip = first
        remaining = length
        self.owner = owner
        self.pool = pool
        self.loop = loop
    }

    /// `length` stored bytes from `offset` of `fd`, read with `pread`.
    init(fd: Int32, from offset: Int64, length: Int64, owner: BodySourceOwner?, pool: WorkerPool, loop: EventLoop) {
        self.fd = fd
        reader = ChunkReader(fd: fd, offset: offset)
        skip = 0
        remaining = length
        self.owner = owner
        self.pool = pool
        self.loop = loop
    }

    func pump(into socket: Int32, output: inout ByteBuffer) -> BodyProgress {
        if let n = ready {
            ready = nil
            guard n > 0 else { cancel(); return .failed } // corrupt or short
            remaining -= Int64(n)
            output.append(chunk.bytes)
            return .queued
        }
        guard !closed else { return .failed }
        if jobRunning { return .waiting }
        if remaining == 0 {
            closed = true
            Glibc.close(fd)
            return .finished
        }
        jobRunning = true
        let want = Int(min(remaining, Int64(chunk.capacity)))
        let toSkip = skip, reader = reader, chunk = chunk
        skip = 0
        pool.submit(on: loop, { () -> Int in
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
            ready = n
            owner?.bodyCanContinue()
        }
        return .waiting
    }

    func cancel() {
        guard !closed else { return }
        closed = true
        if !jobRunning { Glibc.close(fd) } // else the job's completion closes it
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
}
