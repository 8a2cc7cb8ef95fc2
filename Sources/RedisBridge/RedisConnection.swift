import CShimRedis
import Reactor

/// One hiredis async connection on an `EventLoop` (callbacks run on the loop's thread).
///
/// hiredis 0.14 has no reconnect and no connect timeout of its own: `connectTimeout` is a timer
/// here, and a connection that is lost stays lost — the owner makes a new one (with backoff).
/// Replies come back in command order; in subscribe mode every pushed message goes to
/// `onPush` (hiredis keeps calling the subscribe command's callback).
public final class RedisConnection: @unchecked Sendable { // confined to its loop's thread
    /// Why connecting or a command failed.
    public struct Failure: Error, Equatable, CustomStringConvertible {
        public let message: String
        public var description: String { message }
    }

    private let loop: EventLoop
    private var handle: OpaquePointer?
    private var pending: [Int: (RedisReply) -> Void] = [:]
    private var nextTag = 1
    private static let pushTag = 0
    private var timeout: RepeatingTimer?
    private var onConnect: ((Result<Void, Failure>) -> Void)?
    /// Called once when an established connection ends (nil: closed by us).
    public var onDisconnect: ((Failure?) -> Void)?
    /// Messages pushed in subscribe mode (`["message", channel, payload]` and the like).
    public var onPush: ((RedisReply) -> Void)?
    /// True between a successful connect and the disconnect.
    public private(set) var isConnected = false

    /// Starts connecting to host:port; `onConnect` reports the outcome once (a failure within
    /// `connectTimeout` seconds at the latest).
    public init(loop: EventLoop, host: String, port: Int, connectTimeout: Double = 2,
                onConnect: @escaping (Result<Void, Failure>) -> Void) {
        self.loop = loop
        self.onConnect = onConnect
        var err = [CChar](repeating: 0, count: 256)
        handle = CShim_redis_connect(loop.raw, host, Int32(port), Unmanaged.passUnretained(self).toOpaque(),
                                     RedisConnection.connectCallback, RedisConnection.disconnectCallback,
                                     RedisConnection.replyCallback, &err, 256)
        if handle == nil {
            let text = String(decoding: err.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            loop.post { [self] in self.finishConnect(.failure(Failure(message: "cannot connect to \(host):\(port): \(text)"))) }
            return
        }
        timeout = RepeatingTimer(loop: loop, interval: connectTimeout) { [unowned self] in
            guard !self.isConnected, let h = self.handle else { return }
            self.handle = nil
            CShim_redis_disconnect(h) // hiredis frees it; our callbacks are already cleared below
            self.finishConnect(.failure(Failure(message: "connecting to \(host):\(port) timed out after \(connectTimeout) s")))
        }
    }

    deinit { close() }

    /// Diagnostic (tests): hiredis handles the shim has not freed yet on `loop` (nil: on any loop).
    public static func liveHandles(on loop: EventLoop? = nil) -> Int {
        Int(CShim_redis_live_count(loop?.raw))
    }

    private func finishConnect(_ result: Result<Void, Failure>) {
        timeout?.stop()
        timeout = nil
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
        guard let h = handle, isConnected else { reply(.disconnected); return }
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

    /// Closes at once: pending commands get `.disconnected` (for a server that stopped
    /// answering, where `close()` would wait for their replies).
    public func abort() {
        guard let h = handle else { return }
        handle = nil
        timeout?.stop()
        CShim_redis_free(h)
    }

    /// Closes after pending replies arrive (`onDisconnect(nil)` follows).
    public func close() {
        guard let h = handle else { return }
        handle = nil
        timeout?.stop()
        CShim_redis_disconnect(h)
    }

    private func replied(_ reply: UnsafeRawPointer?, tag: Int) {
        let r = RedisReply(reply)
        if tag == Self.pushTag {
            if r != .disconnected { onPush?(r) }
            return
        }
        pending.removeValue(forKey: tag)?(r)
    }

    private func ended(_ failure: Failure?) {
        let wasConnected = isConnected
        isConnected = false
        handle = nil
        let waiting = pending.sorted { $0.key < $1.key } // in command order, as replies would have come
        pending.removeAll()
        for (_, cb) in waiting { cb(.disconnected) }
        if wasConnected { onDisconnect?(failure) }
    }

    private static let connectCallback: CShim_redis_event_cb = { ctx, status, err in
        let me = Unmanaged<RedisConnection>.fromOpaque(ctx!).takeUnretainedValue()
        if status == 0 {
            me.finishConnect(.success(()))
        } else {
            me.handle = nil // freed by hiredis after a failed connect
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
}
