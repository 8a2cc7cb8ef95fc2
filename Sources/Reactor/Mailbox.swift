import CShimLoop

/// The only door between threads and a loop: jobs posted from any thread run on the loop's
/// thread at its next iteration. `ev_async_send` coalesces, so each wake-up drains the queue.
final class Mailbox: @unchecked Sendable {
    private let lock = Lock()
    private var jobs: [@Sendable () -> Void] = []
    private var spare: [@Sendable () -> Void] = []
    private var async: OpaquePointer?
    private var loopRaw: OpaquePointer?

    func attach(to loop: EventLoop) {
        loopRaw = loop.raw
        async = CShim_async_new(Mailbox.callback, Unmanaged.passUnretained(self).toOpaque())
        CShim_async_start(loop.raw, async)
    }

    func detach() {
        lock.withLock {
            CShim_async_free(loopRaw, async)
            async = nil
        }
    }

    func post(_ job: @escaping @Sendable () -> Void) {
        lock.withLock {
            jobs.append(job)
            if let async { CShim_async_send(loopRaw, async) }
        }
    }

    private func drain() {
        lock.withLock { swap(&jobs, &spare) }
        for job in spare { job() }
        spare.removeAll(keepingCapacity: true)
    }

    private static let callback: CShim_cb = { ctx, _, _ in
        Unmanaged<Mailbox>.fromOpaque(ctx!)._withUnsafeGuaranteedRef { $0.drain() }
    }
}
