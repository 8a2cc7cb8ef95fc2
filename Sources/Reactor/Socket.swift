import CShimLoop
#if canImport(Glibc)
import Glibc
#endif

/// A non-blocking stream socket on an `EventLoop`: reads into the loop's receive buffer,
/// buffers writes and flushes them once per iteration, and closes exactly once.
///
/// Protocol layers subclass it and override `received(_:)` (and the other hooks). The loop
/// owns the socket (a strong reference in its fd table) until `close()`; the libev watcher's
/// context is the unretained socket, so an event costs no reference counting.
open class Socket {
    /// The file descriptor (closed by `close()`).
    public let fd: Int32
    /// The loop this socket lives on (a strong `let`: Swift borrows it without reference counting,
    /// where an `unowned(unsafe)` reference was retained around every use).
    public let loop: EventLoop
    private var io: OpaquePointer?
    /// Bytes waiting to be written (flushed just before the loop sleeps).
    public var output = ByteBuffer()
    /// Bytes received but not yet consumed by `received(_:)` (a partial request or frame).
    public var input = ByteBuffer()
    /// When the sweep timer calls `timedOut()` (loop clock, seconds); 0 = never.
    public var deadline: Double = 0
    /// Output bytes above which the socket stops reading until its peer catches up.
    public var readPauseThreshold = 1 << 20
    @usableFromInline var state: UInt16 = 0
    @usableFromInline var lastDirectWrite: UInt = .max

    @usableFromInline static let closedBit: UInt16 = 2, writeArmed: UInt16 = 4
    private static let queued: UInt16 = 1
    private static let finishing: UInt16 = 8, readPaused: UInt16 = 16, lingering: UInt16 = 32
    private static let held: UInt16 = 64
    /// Inside `received(_:)`: `release()` leaves the buffered input to the running call.
    private static let receiving: UInt16 = 128
    /// The peer sent its last byte (read returned 0): nothing more is read.
    private static let inputEnded: UInt16 = 256

    /// Wraps an already non-blocking fd; call `start()` to register it.
    public init(fd: Int32, loop: EventLoop) {
        self.fd = fd
        self.loop = loop
    }

    /// Registers with the loop and starts reading.
    public final func start() {
        loop.register(self)
        io = CShim_io_new(Socket.ioCallback, Unmanaged.passUnretained(self).toOpaque(), fd, Int32(CShim_EV_READ))
        CShim_io_start(loop.raw, io)
    }

    /// True once `close()` ran.
    @inlinable @inline(__always) public final var isClosed: Bool { state & Socket.closedBit != 0 }

    // MARK: Hooks for protocol layers

    /// New bytes: `bytes` is the unconsumed input followed by what was just read. Return how many
    /// bytes were consumed; the rest is kept and offered again with the next read.
    /// The buffer may be mutated in place (unmasking, chunked decoding).
    open func received(_ bytes: UnsafeMutableRawBufferPointer) -> Int { bytes.count }

    /// The peer closed its side (read returned 0). Default: close.
    open func peerClosed() { close() }

    /// The sweep timer found `deadline` passed. Default: close.
    open func timedOut() { close() }

    /// All buffered output was written.
    open func drained() {}

    /// Called once from `close()`, after the fd is closed: release protocol state here.
    open func didClose() {}

    // MARK: Writing

    /// Gives `output` a pooled block if it has no storage: call before appending a response or
    /// frame (appending without it still works, through malloc).
    @inline(__always)
    public final func prepareOutput() {
        if output.base == nil { output.adopt(loop.takeBlock(), capacity: EventLoop.blockSize) }
    }

    /// Queues the socket for the flush at the end of this loop iteration.
    @inline(__always)
    public final func markForFlush() {
        if state & (Socket.queued | Socket.closedBit) == 0 {
            state |= Socket.queued
            loop.enqueueFlush(self)
        }
    }

    /// Writes `iov` (totalling `total` bytes) with one `writev` now, when nothing is buffered
    /// and no direct write happened in this loop iteration; otherwise, or for what the kernel
    /// does not take, the bytes are copied into `output` and flushed before the loop sleeps.
    /// Fan-out uses it: shared frames go out without a copy per subscriber. The common case —
    /// the kernel takes it all — is inlined into the caller.
    @inlinable @inline(__always)
    public final func write(_ iov: UnsafeMutableBufferPointer<iovec>, total: Int) {
        // Past IOV_MAX (1024) writev fails with EINVAL: such a batch goes through `output`.
        if state & (Socket.closedBit | Socket.writeArmed) == 0 && total > 0 && output.isEmpty
            && lastDirectWrite != loop.flushRound && iov.count <= 1024 {
            lastDirectWrite = loop.flushRound
            let n = writev(fd, iov.baseAddress, Int32(iov.count))
            if n == total { return }
            writeRest(iov, total: total, written: n, errno: n < 0 ? errno : 0)
        } else {
            writeRest(iov, total: total, written: 0, errno: 0)
        }
    }

    /// What `write` does past its common case: retries an interrupted `writev`, closes on an
    /// error, and copies what the kernel did not take (`written` bytes went out) into `output`.
    @usableFromInline
    final func writeRest(_ iov: UnsafeMutableBufferPointer<iovec>, total: Int, written n: Int, errno e: Int32) {
        guard !isClosed, total > 0 else { return }
        var written = n
        if written < 0 {
            if e == EINTR { // interrupted before anything went out: try once more, the same way
                repeat { written = writev(fd, iov.baseAddress, Int32(iov.count)) } while written < 0 && errno == EINTR
                if written == total { return }
            }
            if written < 0 {
                let err = written == n ? e : errno
                guard err == EAGAIN || err == EWOULDBLOCK || err == EINTR else { close(); return }
                written = 0
            }
        }
        // Copy what is left, skipping the `written` bytes.
        prepareOutput()
        var skip = written
        for v in iov {
            let len = v.iov_len
            if skip >= len { skip -= len; continue }
            output.append(UnsafeRawBufferPointer(start: v.iov_base! + skip, count: len - skip))
            skip = 0
        }
        markForFlush()
    }

    /// Closes after the buffered output is written (stops reading now). A peer that never
    /// reads is cut off by the socket's deadline.
    public final func finish() {
        guard !isClosed, state & Socket.finishing == 0 else { return }
        state |= Socket.finishing
        rearm()
        if output.isEmpty { close() } else { markForFlush() }
    }

    /// Writes what is buffered now. Called by the loop's prepare phase and on writability.
    final func flushFromLoop() {
        state &= ~Socket.queued
        guard !isClosed else { return }
        while !output.isEmpty {
            let r = output.readable
            let n = Glibc.write(fd, r.baseAddress, r.count)
            if n > 0 {
                output.consume(n)
                continue
            }
            let e = errno
            if n < 0 && e == EINTR { continue }
            if n < 0 && (e == EAGAIN || e == EWOULDBLOCK) { break }
            close() // EPIPE, ECONNRESET: the peer is gone
            return
        }
        if output.isEmpty {
            if let block = output.surrender(ifCapacity: EventLoop.blockSize) { loop.returnBlock(block) }
            if state & Socket.finishing != 0 { linger(); return }
            if state & (Socket.writeArmed | Socket.readPaused) != 0 {
                state &= ~(Socket.writeArmed | Socket.readPaused)
                rearm()
            }
            drained()
        } else if state & Socket.writeArmed == 0 {
            // Short write: only now is the write watcher armed (Redis ae / uSockets habit).
            state |= Socket.writeArmed
            rearm()
        }
    }

    /// Arms the write watcher although `output` is empty, for a layer that writes around the
    /// buffer (`sendfile`) and got EAGAIN: `drained()` is called once the socket is writable.
    public final func awaitWritable() {
        guard !isClosed, state & Socket.writeArmed == 0 else { return }
        state |= Socket.writeArmed
        rearm()
    }

    /// Lingering close: send FIN, then read and discard until the peer closes (or the deadline),
    /// so unread input does not turn our last bytes into a reset the peer may never see.
    private func linger() {
        state |= Socket.lingering
        state &= ~(Socket.writeArmed | Socket.readPaused)
        shutdown(fd, Int32(SHUT_WR))
        let limit = loop.now + 2
        if deadline == 0 || deadline > limit { deadline = limit }
        rearm()
    }

    /// True while the socket waits for its peer to close after our last write.
    public final var isLingering: Bool { state & Socket.lingering != 0 }

    /// Reading is wanted unless finishing, paused for backpressure, held, or at the end of input.
    private var wantsRead: Bool { state & (Socket.finishing | Socket.readPaused | Socket.held | Socket.inputEnded) == 0 }

    /// Stops reading until `release()`: a protocol layer waiting for an asynchronous answer
    /// (a Redis round trip, a disk job) before it may look at the next request, or a streamed
    /// upload waiting for its disk writes (TCP flow control then slows the sender). Bytes
    /// already received stay in `input`.
    public final func hold() {
        guard !isClosed, state & Socket.held == 0 else { return }
        state |= Socket.held
        if state & Socket.finishing == 0 { rearm() }
    }

    /// True between `hold()` and `release()`.
    public final var isHeld: Bool { state & Socket.held != 0 }

    /// Reads again after `hold()`, first offering what `input` already holds to `received(_:)`
    /// — unless called from inside `received(_:)`, whose caller goes on with that input itself.
    public final func release() {
        guard !isClosed, state & Socket.held != 0 else { return }
        state &= ~Socket.held
        if state & Socket.finishing != 0 { return }
        rearm()
        if !input.isEmpty && state & Socket.receiving == 0 {
            let used = receive(input.readable)
            if !isClosed {
                input.consume(used)
                input.releaseIfEmpty()
            }
        }
    }

    /// Offers what `input` holds to `received(_:)` again (a layer that stopped consuming it,
    /// waiting for something, and may go on now); nothing from inside `received(_:)`.
    public final func offerInput() {
        guard !isClosed, !input.isEmpty, state & Socket.receiving == 0 else { return }
        let used = receive(input.readable)
        if !isClosed {
            input.consume(used)
            input.releaseIfEmpty()
        }
    }

    /// Calls `received(_:)`, marking the socket as inside it.
    @inline(__always)
    private final func receive(_ bytes: UnsafeMutableRawBufferPointer) -> Int {
        state |= Socket.receiving // never nested: `release` and `offerInput` do not call it from inside
        let used = received(bytes)
        state &= ~Socket.receiving
        return used
    }

    /// True while `received(_:)` runs (directly, or nested through `release()`).
    public final var isReceiving: Bool { state & Socket.receiving != 0 }

    /// Points the watcher at what `state` asks for: writability while a short write waits
    /// (`writeArmed`), readability while reading is wanted or a lingering close drains the peer.
    private func rearm() {
        let events = (state & Socket.writeArmed != 0 ? Int32(CShim_EV_WRITE) : 0)
            | (wantsRead || state & Socket.lingering != 0 ? Int32(CShim_EV_READ) : 0)
        if events == 0 { CShim_io_stop(loop.raw, io); return }
        CShim_io_set_events(loop.raw, io, events)
        CShim_io_start(loop.raw, io)
    }

    // MARK: Reading

    private final func readable() {
        var n: Int
        if input.isEmpty {
            repeat { n = Glibc.read(fd, loop.receiveBuffer, EventLoop.receiveBufferSize) } while n < 0 && errno == EINTR
            if n > 0 {
                let bytes = UnsafeMutableRawBufferPointer(start: loop.receiveBuffer, count: n)
                let used = receive(bytes)
                if used < n && !isClosed && state & Socket.finishing == 0 {
                    input.append(UnsafeRawBufferPointer(rebasing: bytes[used...]))
                }
            }
        } else {
            let room = EventLoop.receiveBufferSize
            let dst = input.reserve(room)
            repeat { n = Glibc.read(fd, dst, room) } while n < 0 && errno == EINTR
            if n > 0 {
                input.writeIndex += n
                let used = receive(input.readable)
                if !isClosed {
                    input.consume(used)
                    input.releaseIfEmpty()
                }
            }
        }
        if n == 0 {
            state |= Socket.inputEnded // level-triggered EOF: never watched again
            rearm()
            peerClosed()
            return
        }
        if n < 0 {
            let e = errno
            if e != EAGAIN && e != EWOULDBLOCK { close() }
            return
        }
        if !isClosed && output.readableCount > readPauseThreshold && state & Socket.readPaused == 0 {
            // Backpressure: a peer that sends faster than it reads stops being read.
            state |= Socket.readPaused
            rearm()
        }
    }

    /// Hands this socket's fd, watcher, deadline and buffered output to `next` (a protocol
    /// upgrade, e.g. HTTP → WebSocket); this object is retired without closing the fd and
    /// without `didClose()`. `next` must wrap the same fd and not be started. Unconsumed
    /// input is not moved: the caller passes the bytes after the handshake on itself.
    public final func handOver(to next: Socket) {
        precondition(next.fd == fd && next.io == nil && !isClosed, "handOver needs a fresh socket on the same fd")
        next.io = io
        io = nil
        CShim_io_set_ctx(next.io, Unmanaged.passUnretained(next).toOpaque())
        swap(&next.output, &output)
        next.deadline = deadline
        next.state = state & (Socket.writeArmed | Socket.readPaused)
        state = Socket.closedBit
        loop.replace(self, with: next)
        if !next.output.isEmpty { next.markForFlush() }
    }

    /// Closes the fd once, stops the watcher, and tells the subclass.
    public final func close() {
        guard !isClosed else { return }
        state |= Socket.closedBit
        CShim_io_free(loop.raw, io)
        io = nil
        Glibc.close(fd)
        output.clear()
        if let block = output.surrender(ifCapacity: EventLoop.blockSize) { loop.returnBlock(block) }
        loop.unregister(self)
        didClose()
    }

    private final func drainLingering() {
        var n: Int
        repeat { n = Glibc.read(fd, loop.receiveBuffer, EventLoop.receiveBufferSize) } while n > 0
        if n == 0 || (errno != EAGAIN && errno != EINTR) { close() }
    }

    @inline(__always)
    private final func handle(_ revents: Int32) {
        if state & Socket.lingering != 0 { drainLingering(); return }
        if revents & Int32(CShim_EV_WRITE) != 0 { flushFromLoop() }
        if revents & Int32(CShim_EV_READ) != 0 && !isClosed && state & Socket.finishing == 0 { readable() }
    }

    private static let ioCallback: CShim_cb = { ctx, _, revents in
        Unmanaged<Socket>.fromOpaque(ctx!)._withUnsafeGuaranteedRef { $0.handle(revents) }
    }
}
