import CShimLoop

/// A repeating libev timer on a loop, for work that must run on a schedule finer than the
/// sweep (load generators' send ticks). Servers use the one sweep timer instead.
public final class RepeatingTimer {
    private let loop: EventLoop
    private var timer: OpaquePointer?
    private let action: () -> Void

    /// Calls `action` every `interval` seconds on `loop`'s thread until `stop()`.
    public init(loop: EventLoop, interval: Double, action: @escaping () -> Void) {
        self.loop = loop
        self.action = action
        timer = CShim_timer_new(RepeatingTimer.callback, Unmanaged.passUnretained(self).toOpaque(), interval, interval)
        CShim_timer_start(loop.raw, timer)
    }

    deinit { stop() }

    /// Stops the timer (idempotent).
    public func stop() {
        guard let t = timer else { return }
        CShim_timer_free(loop.raw, t)
        timer = nil
    }

    /// The action may drop the last reference to its own timer (a one-shot retry that clears
    /// itself): the timer, and with it the closure's captures, live until the action returns.
    private static let callback: CShim_cb = { ctx, _, _ in
        let timer = Unmanaged<RepeatingTimer>.fromOpaque(ctx!).takeUnretainedValue()
        withExtendedLifetime(timer) { timer.action() }
    }
}
