import CShimLoop
import CShimSys
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A listening TCP socket whose accepted connections are handed to `onAccept`.
///
/// When the process runs out of descriptors (`EMFILE`/`ENFILE`) the listener stops watching
/// instead of spinning on a readable backlog it cannot drain; it resumes when the loop closes a
/// socket or at the next sweep. Pending clients wait in the kernel's backlog meanwhile.
public final class Listener {
    /// The listening fd.
    public let fd: Int32
    /// The bound port (useful with port 0).
    public let port: Int
    private unowned(unsafe) let loop: EventLoop
    private var io: OpaquePointer?
    private let onAccept: (Int32) -> Void
    /// Accept attempts refused for lack of descriptors (metrics; any thread may read it).
    public var exhaustedCount: Int { exhausted.load(ordering: .relaxed) }
    private let exhausted = Atomic<Int>(0)
    private var paused = false
    /// Connections accepted per readiness event at most, so one busy listener cannot starve I/O.
    private let acceptBurst = 256

    /// Binds and listens; throws `ListenError` with the errno text.
    public init(loop: EventLoop, host: String, port: Int, reusePort: Bool, backlog: Int = 4096,
                onAccept: @escaping (Int32) -> Void) throws(ListenError) {
        let fd = CShim_tcp_listen(host, Int32(port), Int32(backlog), reusePort ? 1 : 0)
        guard fd >= 0 else { throw ListenError(host: host, port: port, errno: -fd) }
        self.fd = fd
        self.port = Int(CShim_local_port(fd))
        self.loop = loop
        self.onAccept = onAccept
        io = CShim_io_new(Listener.callback, Unmanaged.passUnretained(self).toOpaque(), fd, Int32(CShim_EV_READ))
        CShim_io_start(loop.raw, io)
    }

    deinit { close() }

    /// Stops accepting and closes the listening socket.
    public func close() {
        guard let io else { return }
        CShim_io_free(loop.raw, io)
        self.io = nil
        Glibc.close(fd)
    }

    func resume() {
        guard paused, let io else { return }
        paused = false
        CShim_io_start(loop.raw, io)
    }

    private func acceptReady() {
        var burst = acceptBurst
        while burst > 0 {
            burst -= 1
            let fd = CShim_accept(self.fd)
            if fd >= 0 { onAccept(fd); continue }
            switch -fd {
            case EAGAIN, EWOULDBLOCK: return
            case EINTR, ECONNABORTED, EPROTO: continue
            case EMFILE, ENFILE, ENOBUFS, ENOMEM:
                exhausted.store(exhausted.load(ordering: .relaxed) + 1, ordering: .relaxed) // only this loop writes it
                paused = true
                CShim_io_stop(loop.raw, io)
                loop.pause(self)
                return
            default: return
            }
        }
    }

    private static let callback: CShim_cb = { ctx, _, _ in
        Unmanaged<Listener>.fromOpaque(ctx!)._withUnsafeGuaranteedRef { $0.acceptReady() }
    }
}

/// Binding or listening failed.
public struct ListenError: Error, CustomStringConvertible {
    public let host: String
    public let port: Int
    public let errno: Int32
    public var description: String {
        "cannot listen on \(host):\(port): \(String(cString: strerror(errno)))"
    }
}
