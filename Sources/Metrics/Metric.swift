import Synchronization

/// A counter that only goes up, written by one thread (the loop that owns it) and read by any
/// (the `/metrics` render, the dashboard). The owner's `add` is a relaxed load and store — no
/// lock, no read-modify-write instruction — which is exact because nobody else writes it.
public final class Counter: Sendable {
    @usableFromInline let storage = Atomic<Int>(0)

    public init() {}

    /// Adds `n` (≥ 0). Only the owning thread may call it.
    @inlinable @inline(__always)
    public func add(_ n: Int = 1) {
        storage.store(storage.load(ordering: .relaxed) &+ n, ordering: .relaxed)
    }

    /// The current value (any thread).
    public var value: Int { storage.load(ordering: .relaxed) }
}

/// A value that goes up and down, written by one thread and read by any (see `Counter`).
public final class Gauge: Sendable {
    @usableFromInline let storage = Atomic<Int>(0)

    public init() {}

    /// Sets the value. Only the owning thread may call it.
    @inlinable @inline(__always)
    public func set(_ v: Int) { storage.store(v, ordering: .relaxed) }

    /// Adds `n` (may be negative). Only the owning thread may call it.
    @inlinable @inline(__always)
    public func add(_ n: Int) {
        storage.store(storage.load(ordering: .relaxed) &+ n, ordering: .relaxed)
    }

    /// The current value (any thread).
    public var value: Int { storage.load(ordering: .relaxed) }
}
