import CShimLoop
#if canImport(Glibc)
import Glibc
#endif

/// Work a loop's owner does once per iteration, just before the loop flushes and sleeps.
open class PrepareHook {
    public init() {}
    /// Runs before sockets are flushed (fan-out goes here).
    open func beforeFlush() {}
}

/// One libev loop on one thread: the receive buffer, the flush list, the sweep timer and the
/// mailbox of that thread.
///
/// Everything here is confined to the loop's thread except `post` (and `WorkerPool`), which
/// other threads use to hand work back. Sockets register themselves; the loop holds the only
/// strong reference to each, so a closed socket is released after the current iteration's
/// callbacks (never while one of its own methods is on the stack).
public final class EventLoop: @unchecked Sendable {
    /// The libev loop (a `CShim_loop *`).
    public let raw: OpaquePointer
    /// Size of the per-loop receive buffer every socket reads into.
    public static let receiveBufferSize = 64 * 1024
    /// The per-loop receive buffer: parse from it by offsets; copy out only what must outlive
    /// the read callback.
    public let receiveBuffer: UnsafeMutableRawPointer

    private var table: UnsafeMutablePointer<Unmanaged<Socket>?>
    private var tableCapacity: Int
    private var highestFD: Int = -1
    /// Open sockets registered on this loop.
    public private(set) var socketCount = 0

    /// Counts the loop's flushes (once per iteration, before it sleeps): what a socket
    /// compares to tell whether it wrote directly in this iteration already.
    @inlinable public var flushRound: UInt { round }
    @usableFromInline var round: UInt = 0
    private var flushList: UnsafeMutablePointer<Unmanaged<Socket>>
    private var flushCount = 0
    private var flushCapacity = 1024
    private var releaseList: [Unmanaged<Socket>] = []
    private var pausedListeners: [Listener] = []

    /// Output blocks: a socket borrows one when it has something to write and gives it back
    /// once flushed, so idle sockets hold no buffer and busy ones never call malloc.
    public static let blockSize = 16 * 1024
    private var blocks: [UnsafeMutableRawPointer] = []
    private let maxPooledBlocks = 4096

    private var prepare: OpaquePointer?
    private var sweepTimer: OpaquePointer?
    let mailbox: Mailbox
    /// Called on every sweep tick (once per `sweepInterval`) after deadlines were checked.
    public var onSweep: ((Double) -> Void)?
    /// Called once per iteration, in the prepare phase before sockets are flushed: where
    /// batched work (fan-out) is queued. Held unretained (its owner outlives the loop's run)
    /// and called without reference counting, unlike a stored closure.
    public var prepareHook: PrepareHook? {
        get { hook?.takeUnretainedValue() }
        set { hook = newValue.map { Unmanaged.passUnretained($0) } }
    }
    private var hook: Unmanaged<PrepareHook>?

    /// Creates a loop on the epoll backend with a sweep timer every `sweepInterval` seconds.
    /// Ignores `SIGPIPE` for the whole process: a peer that goes away must make `write` and
    /// `sendfile` fail with `EPIPE` (the socket closes), not kill the process.
    public init(sweepInterval: Double = 1.0) {
        signal(SIGPIPE, SIG_IGN)
        guard let raw = CShim_loop_new() else { fatalError("libev: cannot create a loop") }
        self.raw = raw
        receiveBuffer = .allocate(byteCount: Self.receiveBufferSize, alignment: 64)
        var limit = rlimit()
        getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
        tableCapacity = Int(clamping: Swift.max(UInt(limit.rlim_cur), 1024))
        table = .allocate(capacity: tableCapacity)
        table.initialize(repeating: nil, count: tableCapacity)
        flushList = .allocate(capacity: flushCapacity)
        mailbox = Mailbox()
        let me = Unmanaged.passUnretained(self).toOpaque()
        prepare = CShim_prepare_new(EventLoop.prepareCallback, me)
        CShim_prepare_start(raw, prepare)
        sweepTimer = CShim_timer_new(EventLoop.sweepCallback, me, sweepInterval, sweepInterval)
        CShim_timer_start(raw, sweepTimer)
        mailbox.attach(to: self)
    }

    deinit {
        CShim_prepare_free(raw, prepare)
        CShim_timer_free(raw, sweepTimer)
        mailbox.detach()
        for fd in 0..<(highestFD + 1) { table[fd]?.release() }
        for u in releaseList { u.release() }
        for b in blocks { b.deallocate() }
        table.deallocate()
        flushList.deallocate()
        receiveBuffer.deallocate()
        CShim_loop_free(raw)
    }

    /// The loop's cached clock (seconds since the epoch), updated once per iteration.
    @inlinable @inline(__always) public var now: Double { CShim_loop_now(raw) }

    /// The libev backend (4 = epoll).
    public var backend: UInt32 { CShim_loop_backend(raw) }

    /// Runs the loop on the calling thread until `stop()` (its own watchers keep it running).
    public func run() { CShim_loop_run(raw) }

    /// Stops the loop; call on the loop's thread (from another thread, `post { loop.stop() }`).
    public func stop() { CShim_loop_break(raw) }

    /// Runs `job` on the loop's thread at its next iteration. Safe from any thread.
    public func post(_ job: @escaping @Sendable () -> Void) { mailbox.post(job) }

    // MARK: Socket registry

    func register(_ socket: Socket) {
        let fd = Int(socket.fd)
        if fd >= tableCapacity { growTable(to: fd + 1) }
        table[fd] = Unmanaged.passRetained(socket)
        if fd > highestFD { highestFD = fd }
        socketCount += 1
    }

    private func growTable(to count: Int) {
        let capacity = Swift.max(count, tableCapacity * 2)
        let fresh = UnsafeMutablePointer<Unmanaged<Socket>?>.allocate(capacity: capacity)
        fresh.moveInitialize(from: table, count: tableCapacity)
        (fresh + tableCapacity).initialize(repeating: nil, count: capacity - tableCapacity)
        table.deallocate()
        table = fresh
        tableCapacity = capacity
    }

    func unregister(_ socket: Socket) {
        let fd = Int(socket.fd)
        guard fd < tableCapacity, let u = table[fd], u.toOpaque() == Unmanaged.passUnretained(socket).toOpaque() else { return }
        table[fd] = nil
        socketCount -= 1
        releaseList.append(u) // released after this iteration's callbacks
        if !pausedListeners.isEmpty { resumeListeners() }
    }

    func replace(_ old: Socket, with new: Socket) {
        let fd = Int(old.fd)
        guard let u = table[fd], u.toOpaque() == Unmanaged.passUnretained(old).toOpaque() else { return }
        table[fd] = Unmanaged.passRetained(new)
        releaseList.append(u)
    }

    /// Calls `body` for every open socket (sweeps, shutdown).
    public func forEachSocket(_ body: (Socket) -> Void) {
        var fd = 0
        while fd <= highestFD {
            if let u = table[fd] { u._withUnsafeGuaranteedRef { body($0) } }
            fd += 1
        }
    }

    // MARK: Output blocks

    @inline(__always)
    func takeBlock() -> UnsafeMutableRawPointer {
        if let b = blocks.popLast() { return b }
        return .allocate(byteCount: EventLoop.blockSize, alignment: 64)
    }

    @inline(__always)
    func returnBlock(_ block: UnsafeMutableRawPointer) {
        if blocks.count < maxPooledBlocks { blocks.append(block) } else { block.deallocate() }
    }

    // MARK: Flushing: writes go out once per iteration, just before the loop sleeps.

    @inline(__always)
    func enqueueFlush(_ socket: Socket) {
        if flushCount == flushCapacity {
            let fresh = UnsafeMutablePointer<Unmanaged<Socket>>.allocate(capacity: flushCapacity * 2)
            fresh.moveInitialize(from: flushList, count: flushCount)
            flushList.deallocate()
            flushList = fresh
            flushCapacity *= 2
        }
        flushList[flushCount] = Unmanaged.passUnretained(socket)
        flushCount += 1
    }

    private func prepareToSleep() {
        hook?._withUnsafeGuaranteedRef { $0.beforeFlush() }
        round &+= 1
        var i = 0
        // Flushing may enqueue more (a socket closed by a failed write enqueues nothing).
        while i < flushCount {
            flushList[i]._withUnsafeGuaranteedRef { $0.flushFromLoop() }
            i += 1
        }
        flushCount = 0
        if !releaseList.isEmpty {
            for u in releaseList { u.release() }
            releaseList.removeAll(keepingCapacity: true)
        }
    }

    // MARK: Accept pausing (EMFILE/ENFILE)

    func pause(_ listener: Listener) { pausedListeners.append(listener) }

    private func resumeListeners() {
        let paused = pausedListeners
        pausedListeners.removeAll()
        for l in paused { l.resume() }
    }

    // MARK: Sweep: one timer for every socket's deadline.

    private func sweep() {
        let now = self.now
        var fd = 0
        while fd <= highestFD {
            if let u = table[fd] {
                u._withUnsafeGuaranteedRef { s in
                    if s.deadline != 0 && s.deadline <= now {
                        s.deadline = 0
                        if s.isLingering { s.close() } else { s.timedOut() }
                    }
                }
            }
            fd += 1
        }
        if !pausedListeners.isEmpty { resumeListeners() }
        onSweep?(now)
    }

    private static let prepareCallback: CShim_cb = { ctx, _, _ in
        Unmanaged<EventLoop>.fromOpaque(ctx!)._withUnsafeGuaranteedRef { $0.prepareToSleep() }
    }
    private static let sweepCallback: CShim_cb = { ctx, _, _ in
        Unmanaged<EventLoop>.fromOpaque(ctx!)._withUnsafeGuaranteedRef { $0.sweep() }
    }
}
