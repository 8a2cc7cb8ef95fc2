#if canImport(Glibc)
import Glibc
#endif

/// A pthread mutex for the few places where threads meet (mailboxes, the worker queue).
/// Nothing on a loop's hot path takes a lock.
public final class Lock: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    let cond = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    public init() {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(cond, nil)
    }

    deinit {
        pthread_cond_destroy(cond)
        pthread_mutex_destroy(mutex)
        cond.deallocate()
        mutex.deallocate()
    }

    /// Runs `body` with the lock held.
    @inline(__always)
    public func withLock<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }

    /// Waits on the lock's condition; call only with the lock held (inside `withLock`).
    func wait() { pthread_cond_wait(cond, mutex) }
    /// Wakes one waiter.
    func signal() { pthread_cond_signal(cond) }
    /// Wakes every waiter.
    func broadcast() { pthread_cond_broadcast(cond) }
}
