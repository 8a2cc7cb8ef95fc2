import CShimLoop

/// A signal (SIGTERM, SIGINT, …) handled on a loop's thread: libev turns it into an event, so
/// `action` runs between callbacks like any other, never inside an async-signal context.
public final class SignalWatcher {
    private let loop: EventLoop
    private var watcher: OpaquePointer?
    private let action: (Int32) -> Void

    /// Starts watching `signal` on `loop`; `action` gets the signal number.
    public init(loop: EventLoop, signal: Int32, action: @escaping (Int32) -> Void) {
        self.loop = loop
        self.action = action
        watcher = CShim_signal_new(SignalWatcher.callback, Unmanaged.passUnretained(self).toOpaque(), signal)
        CShim_signal_start(loop.raw, watcher)
    }

    deinit { stop() }

    /// Stops watching (idempotent); the signal's default handling comes back.
    public func stop() {
        guard let w = watcher else { return }
        CShim_signal_free(loop.raw, w)
        watcher = nil
    }

    /// As with `RepeatingTimer`: the action may drop the last reference to its watcher.
    private static let callback: CShim_cb = { ctx, signum, _ in
        let watcher = Unmanaged<SignalWatcher>.fromOpaque(ctx!).takeUnretainedValue()
        withExtendedLifetime(watcher) { watcher.action(signum) }
    }
}
