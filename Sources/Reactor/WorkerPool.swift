#if canImport(Glibc)
import Glibc
#endif

/// Threads for blocking work (disk, compression): a job runs on a worker and its result is
/// posted back to the loop that submitted it. The loop never waits for the pool.
public final class WorkerPool: @unchecked Sendable {
    private let lock = Lock()
    private var queue: [@Sendable () -> Void] = []
    private var head = 0
    private var stopping = false
    private var workers: [pthread_t] = []
    /// Number of worker threads.
    public let size: Int

    /// Starts `threads` workers.
    public init(threads: Int) {
        size = Swift.max(1, threads)
        for _ in 0..<size {
            var tid = pthread_t()
            let box = Unmanaged.passRetained(self).toOpaque()
            pthread_create(&tid, nil, { arg in
                let pool = Unmanaged<WorkerPool>.fromOpaque(arg!).takeRetainedValue()
                pool.work()
                return nil
            }, box)
            workers.append(tid)
        }
    }

    /// Runs `work` on a worker, then `completion(result)` on `loop`'s thread.
    public func submit<T: Sendable>(on loop: EventLoop, _ work: @escaping @Sendable () -> T,
                                    completion: @escaping @Sendable (T) -> Void) {
        enqueue {
            let result = work()
            loop.post { completion(result) }
        }
    }

    /// Runs `job` on a worker (fire and forget).
    public func enqueue(_ job: @escaping @Sendable () -> Void) {
        lock.withLock {
            queue.append(job)
            lock.signal()
        }
    }

    /// Lets workers finish the queued jobs, then joins them.
    public func shutdown() {
        lock.withLock {
            stopping = true
            lock.broadcast()
        }
        for t in workers { pthread_join(t, nil) }
        workers.removeAll()
    }

    private func work() {
        while true {
            let job: (@Sendable () -> Void)? = lock.withLock {
                while head == queue.count && !stopping { lock.wait() }
                if head == queue.count { return nil }
                let j = queue[head]
                head += 1
                if head == queue.count { queue.removeAll(keepingCapacity: true); head = 0 }
                return j
            }
            guard let job else { return }
            job()
        }
    }
}
