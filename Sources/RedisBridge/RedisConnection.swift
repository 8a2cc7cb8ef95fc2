import CShimRedis
import Reactor

/// One hiredis async connection on an `EventLoop` (callbacks run on the loop's thread).
///
/// hiredis 0.14 has no reconnect and no connect timeout of its own: `connectTimeout` is a timer
/// here, and a connection that is lost stays lost — the owner makes a new one (with backoff).
/// Replies come back in command order; in subscribe mode every pushed message goes to
/// `onPush` (hiredis keeps calling the subscribe command's callback).
///
/// Lifetime: from `init` until the shim has freed its hiredis handle, the shim holds a strong
/// reference to the connection. So the owner may close it and let go of it anywhere — inside
/// one of its own callbacks too (reply, push, connect, disconnect) — and what is still due
/// arrives as documented: the answers to pending commands, then `onDisconnect(nil)`. A close
/// asked for inside a callback is carried out once hiredis has returned. The flip side: letting
/// go does not close a connection; `close()` or `abort()` it (or let the connect fail or time out).
public final class RedisConnection: @unchecked Sendable { // confined to its loop's thread
    /// Why connecting or a command failed.
    public struct Failure: Error, Equatable, CustomStringConvertible {
        public let message: String
        public var description: String { message }
    }

    private let loop: EventLoop
    /// The shim's handle, from `init` until the shim frees it (`freeCallback`).
    private var handle: OpaquePointer?
    /// Closed by `close()`/`abort()`, or ended: no command goes out anymore, no push comes in.
    private var closing = false
    private var aborted = false
    private var pending: [Int: (RedisReply) -> Void] = [:]
    private var nextTag = 1
    private static let pushTag = 0
    /// Stopped when done, but kept: releasing it inside its own callback would free the closure
    /// that is running.
    private var timeout: RepeatingTimer?
    private var onConnect: ((Result<Void, Failure>) -> Void)?
    /// Called once when an established connection ends (nil: closed by us).
    public var onDisconnect: ((Failure?) -> Void)?
    /// Messages pushed in subscribe mode (`["message", channel, payload]` and the like).
    public var onPush: ((RedisReply) -> Void)?
    /// True between a successful connect and the disconnect.
    public private(set) var isConnected = false

    /// Starts connecting to host:port; `onConnect` reports the outcome once (a failure within
    /// `connectTimeout` seconds at the latest), unless the connection is closed before.
    public init(loop: EventLoop, host: String, port: Int, connectTimeout: Double = 2,
                onConnect: @escaping (Result<Void, Failure>) -> Void) {
        self.loop = loop
        self.onConnect = onConnect
        var err = [CChar](repeating: 0, count: 256)
        let retained = Unmanaged.passRetained(self) // the shim's reference, released by `freeCallback`
        handle = CShim_redis_connect(loop.raw, host, Int32(port), retained.toOpaque(),
                                     RedisConnection.connectCallback, RedisConnection.disconnectCallback,
                                     RedisConnection.replyCallback, RedisConnection.freeCallback, &err, 256)
        if handle == nil {
            retained.release()
            let text = String(decoding: err.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            loop.post { [self] in self.finishConnect(.failure(Failure(message: "cannot connect to \(host):\(port): \(text)"))) }
            return
        }
        timeout = RepeatingTimer(loop: loop, interval: connectTimeout) { [unowned self] in
            let me = self // held to the end: the shim lets go of it in the disconnect below
            guard !me.isConnected, !me.closing, let h = me.handle else { return }
            let failure = Failure(message: "connecting to \(host):\(port) timed out after \(connectTimeout) s")
            me.closing = true
            CShim_redis_disconnect(h) // never connected: freed now, without a callback (`freeCallback` follows)
            me.finishConnect(.failure(failure))
        }
    }

    deinit { timeout?.stop() } // the handle is gone: the shim's reference kept us until it was freed

    /// Diagnostic (tests): hiredis handles the shim has not freed yet on `loop` (nil: on any loop).
    public static func liveHandles(on loop: EventLoop? = nil) -> Int {
        Int(CShim_redis_live_count(loop?.raw))
    }

    private func finishConnect(_ result: Result<Void, Failure>) {
        timeout?.stop()
        guard let cb = onConnect else { return }
        onConnect = nil
        if case .success = result { isConnected = true }
        cb(result)
    }

    /// Sends a command; `reply` gets its answer (`.disconnected` if the connection goes first).
    public func send(_ args: [String], reply: @escaping (RedisReply) -> Void) {
        send(args.map { Array($0.utf8) }, reply: reply)
    }

    /// Sends a command of raw byte arguments.
    public func send(_ args: [[UInt8]], reply: @escaping (RedisReply) -> Void) {
        guard let h = handle, isConnected, !closing else { reply(.disconnected); return }
        let subscribing = Self.isSubscribeCommand(args.first ?? [])
        let tag = subscribing ? Self.pushTag : nextTag
        if !subscribing { nextTag += 1; pending[tag] = reply }
        let pointers = args.map { a -> UnsafeMutablePointer<CChar> in
            let p = UnsafeMutablePointer<CChar>.allocate(capacity: max(a.count, 1))
            a.withUnsafeBytes { if let src = $0.baseAddress { UnsafeMutableRawPointer(p).copyMemory(from: src, byteCount: a.count) } }
            return p
        }
        defer { pointers.forEach { $0.deallocate() } } // hiredis copies the arguments
        var argv = pointers.map { UnsafePointer<CChar>?($0) }
        var lengths = args.map { $0.count }
        if CShim_redis_command(h, Int32(args.count), &argv, &lengths, tag) != 0 {
            pending[tag] = nil
            reply(.disconnected)
        } else if subscribing {
            reply(.status("queued"))
        }
    }

    /// Writes buffered commands now rather than on the next write readiness (call before the
    /// loop sleeps).
    public func flush() {
        if let h = handle, isConnected { CShim_redis_flush(h) }
    }

    /// SUBSCRIBE, PSUBSCRIBE, UNSUBSCRIBE or PUNSUBSCRIBE, in any case (no allocation).
    static func isSubscribeCommand(_ name: [UInt8]) -> Bool {
        guard name.count >= 9, name.count <= 12 else { return false }
        var tail = name.count == 9 || name.count == 11 ? name[...] : name.dropFirst()
        if name.count >= 11 {
            guard (tail[tail.startIndex] | 0x20) == UInt8(ascii: "u"), (tail[tail.startIndex + 1] | 0x20) == UInt8(ascii: "n") else { return false }
            tail = tail.dropFirst(2)
        }
        if name.count == 10 || name.count == 12 { guard (name[0] | 0x20) == UInt8(ascii: "p") else { return false } }
        return zip(tail, "subscribe".utf8).allSatisfy { ($0 | 0x20) == $1 }
    }

    /// Closes at once: pending commands get `.disconnected`, then `onDisconnect(nil)` (for a
    /// server that stopped answering, where `close()` would wait for their replies). Inside a
    /// callback of this connection, done once hiredis has returned.
    public func abort() {
        guard let h = handle, !aborted else { return }
        aborted = true
        shutDown()
        CShim_redis_free(h)
    }

    /// Closes after pending replies arrive (`onDisconnect(nil)` follows). Inside a callback of
    /// this connection, done once hiredis has returned.
    public func close() {
        guard let h = handle, !closing else { return }
        shutDown()
        CShim_redis_disconnect(h)
    }

    /// What closing does on our side: no more commands; a connect still under way reports nothing.
    private func shutDown() {
        closing = true
        onConnect = nil
        timeout?.stop()
    }

    private func replied(_ reply: UnsafeRawPointer?, tag: Int) {
        let r = RedisReply(reply)
        if tag == Self.pushTag {
            if r != .disconnected && !closing { onPush?(r) }
            return
        }
        pending.removeValue(forKey: tag)?(r)
    }

    private func ended(_ failure: Failure?) {
        let wasConnected = isConnected
        isConnected = false
        closing = true
        failPending()
        if wasConnected { onDisconnect?(failure) }
    }

    /// Pending commands get `.disconnected`, in command order, as replies would have come.
    private func failPending() {
        guard !pending.isEmpty else { return }
        let waiting = pending.sorted { $0.key < $1.key }
        pending.removeAll()
        for (_, cb) in waiting { cb(.disconnected) }
    }

    /// The shim freed the handle: nothing calls us again, and its reference goes.
    private func freed() {
        handle = nil
        isConnected = false
        closing = true
        timeout?.stop()
        failPending() // none: hiredis answered every command before letting go
        onDisconnect = nil
        onPush = nil
    }

    private static let connectCallback: CShim_redis_event_cb = { ctx, status, err in
        let me = Unmanaged<RedisConnection>.fromOpaque(ctx!).takeUnretainedValue()
        if status == 0 {
            me.finishConnect(.success(()))
        } else {
            me.closing = true // hiredis frees it once this returns (`freeCallback`)
            me.finishConnect(.failure(Failure(message: "cannot connect to Redis: \(String(cString: err!))")))
        }
    }
    private static let disconnectCallback: CShim_redis_event_cb = { ctx, status, err in
        let me = Unmanaged<RedisConnection>.fromOpaque(ctx!).takeUnretainedValue()
        me.ended(status == 0 ? nil : Failure(message: "Redis connection lost: \(String(cString: err!))"))
    }
    private static let replyCallback: CShim_redis_reply_cb = { ctx, reply, tag in
        Unmanaged<RedisConnection>.fromOpaque(ctx!).takeUnretainedValue().replied(reply, tag: tag)
    }
    private static let freeCallback: CShim_redis_free_cb = { ctx in
        let unmanaged = Unmanaged<RedisConnection>.fromOpaque(ctx!)
        let me = unmanaged.takeUnretainedValue() // held until the end of this closure
        me.freed()
        unmanaged.release() // the reference `init` gave the shim
    }
}
