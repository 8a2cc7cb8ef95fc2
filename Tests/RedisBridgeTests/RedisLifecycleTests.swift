import Foundation
import Testing
@testable import Reactor
@testable import RedisBridge
import RedisServerSupport

/// A loopback port where a TCP connect hangs: a listener with a backlog of 0 that never
/// accepts, its queue already filled by one connection, so Linux drops further SYNs
/// (`tcp_abort_on_overflow` 0, the default) and the connecting side waits until it gives up.
final class HangingPort: @unchecked Sendable {
    let port: Int
    private let listener: Int32
    private let filler: Int32

    init() throws {
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr)
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let l = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0), f = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        let listening = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(l, $0, len) == 0 && listen(l, 0) == 0 && getsockname(l, $0, &len) == 0 }
        }
        let filled = listening && withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(f, $0, len) == 0 } // the kernel completes it
        }
        guard filled else { close(f); close(l); throw RedisTestError("cannot set up a hanging port: errno \(errno)") }
        listener = l
        filler = f
        port = Int(UInt16(bigEndian: addr.sin_port))
    }

    deinit {
        close(filler)
        close(listener)
    }
}

@Suite("hiredis handles: freed once, on every path", .serialized)
struct RedisLifecycleTests {
    /// hiredis 0.14.1 frees a context that never connected without calling back when it is
    /// disconnected (our connect timeout): the shim's wrapper used to leak, once per attempt.
    @Test func timedOutConnectsFreeTheirHandles() throws {
        let hang = try HangingPort()
        let outcomes = Box<[String]>([])
        let counts = Box<(before: Int, after: Int)>((-1, -1))
        let conns = Box<[RedisConnection]>([])
        let attempts = 4
        let finished = onLoop(timeout: 20) { loop, done in
            counts.value.before = RedisConnection.liveHandles(on: loop)
            @Sendable func attempt(_ i: Int) {
                guard i < attempts else {
                    counts.value.after = RedisConnection.liveHandles(on: loop)
                    return done()
                }
                conns.value.append(RedisConnection(loop: loop, host: "127.0.0.1", port: hang.port, connectTimeout: 0.1) { r in
                    switch r {
                    case .success: outcomes.value.append("connected")
                    case .failure(let f): outcomes.value.append(f.message.contains("timed out") ? "timed out" : f.message)
                    }
                    loop.post { attempt(i + 1) } // once this callback has returned
                })
            }
            attempt(0)
        }
        #expect(finished)
        #expect(outcomes.value == Array(repeating: "timed out", count: attempts), "every connect hung until the timeout")
        #expect(counts.value.before == 0)
        #expect(counts.value.after == counts.value.before, "handles still allocated after \(attempts) timed-out connects")
    }

    /// Each way a connection ends, one after another on one loop: the handle count is back to
    /// where it started, and each step saw what it should (never a callback twice).
    @Test func everyWayAConnectionEndsFreesItsHandleOnce() throws {
        let redis = try RedisServer(); defer { redis.stop() }
        let seen = Box<[String]>([])
        let counts = Box<[Int]>([])
        let conns = Box<[RedisConnection]>([])
        let finished = onLoop { loop, done in
            let port = redis.port
            @Sendable func count() { counts.value.append(RedisConnection.liveHandles(on: loop)) }
            @Sendable func open(_ port: Int, _ onConnect: @escaping @Sendable (RedisConnection, Result<Void, RedisConnection.Failure>) -> Void) {
                let box = Box<RedisConnection?>(nil)
                box.value = RedisConnection(loop: loop, host: "127.0.0.1", port: port) { r in onConnect(box.value!, r) }
                conns.value.append(box.value!)
            }
            @Sendable func next(_ step: Int) {
                count()
                switch step {
                case 0: // refused: the connect callback reports it
                    open(1) { _, r in seen.value.append(r.isSuccess ? "connected?" : "refused"); loop.post { next(1) } }
                case 1: // closed while connecting: no callback at all
                    open(port) { _, _ in seen.value.append("connect callback after close?") }
                    conns.value.last!.close()
                    seen.value.append("closed while connecting")
                    loop.post { next(2) }
                case 2: // closed after connecting (outside any callback): the reply, then the disconnect
                    open(port) { c, _ in
                        c.onDisconnect = { f in seen.value.append("closed: \(f == nil ? "by us" : "\(f!)")"); loop.post { next(3) } }
                        c.send(["PING"]) { seen.value.append("PING \($0)") }
                        loop.post { c.close() }
                    }
                case 3: // aborted with a command pending
                    open(port) { c, _ in
                        c.onDisconnect = { f in seen.value.append("aborted: \(f == nil ? "by us" : "\(f!)")"); loop.post { next(4) } }
                        c.send(["BLPOP", "nothing", "0"]) { seen.value.append("BLPOP \($0)") }
                        loop.post { c.abort() }
                    }
                case 4: // closed by the server
                    open(port) { c, _ in
                        c.onDisconnect = { f in seen.value.append(f == nil ? "lost, by us?" : "lost"); loop.post { next(5) } }
                        c.send(["QUIT"]) { seen.value.append("QUIT \($0)") }
                    }
                default:
                    done()
                }
            }
            next(0)
        }
        #expect(finished)
        #expect(seen.value == ["refused", "closed while connecting", "PING status(\"PONG\")", "closed: by us",
                               "BLPOP disconnected", "aborted: by us", "QUIT status(\"OK\")", "lost"])
        #expect(counts.value == [0, 0, 0, 0, 0, 0], "handles alive before each step and at the end")
    }
}

extension Result {
    var isSuccess: Bool { if case .success = self { true } else { false } }
}

final class WeakBox<T: AnyObject>: @unchecked Sendable { weak var value: T? }

/// Closing a connection, or stopping a link, from inside one of its own callbacks — what
/// RedisHub.leave does at shutdown — while hiredis is still using the context.
@Suite("hiredis handles: closed from inside their own callbacks", .serialized)
struct RedisCloseInCallbackTests {
    /// The owner drops its only reference in the callback: the connection must outlive what
    /// hiredis still does with it (the answer to a pipelined command, then the disconnect).
    @Test func closedAndDroppedInsideItsOwnReplyCallbackItLivesUntilHiredisIsDone() throws {
        let redis = try RedisServer(); defer { redis.stop() }
        let seen = Box<[String]>([])
        let weak = WeakBox<RedisConnection>()
        let count = Box(-1)
        let finished = onLoop { loop, done in
            let holder = Box<RedisConnection?>(nil)
            holder.value = RedisConnection(loop: loop, host: "127.0.0.1", port: redis.port) { _ in
                guard let c = holder.value else { return done() }
                c.onDisconnect = { f in
                    seen.value.append(f == nil ? "closed" : "lost: \(f!)")
                    loop.post {
                        seen.value.append(weak.value == nil ? "released" : "still alive")
                        count.value = RedisConnection.liveHandles(on: loop)
                        done()
                    }
                }
                c.send(["PING"]) { r in
                    seen.value.append("PING \(r)")
                    holder.value?.close()
                    holder.value = nil // the only strong reference
                    loop.post {
                        seen.value.append(weak.value == nil ? "freed while hiredis still had it" : "alive")
                        if weak.value == nil { done() } // stop now: the BLPOP's answer would reach freed memory
                    }
                }
                c.send(["BLPOP", "nothing", "0.3"]) { seen.value.append("BLPOP \($0)") } // answered 0.3 s later
            }
            weak.value = holder.value
        }
        #expect(finished)
        #expect(seen.value == ["PING status(\"PONG\")", "alive", "BLPOP null", "closed", "released"])
        #expect(count.value == 0)
    }

    /// hiredis runs the connect callback without its in-callback flag: a close there used to
    /// free the context while hiredis went on using it.
    @Test(arguments: [false, true]) func closedInsideTheConnectCallback(abort: Bool) throws {
        let redis = try RedisServer(); defer { redis.stop() }
        let seen = Box<[String]>([])
        let count = Box(-1)
        let finished = onLoop { loop, done in
            let holder = Box<RedisConnection?>(nil)
            holder.value = RedisConnection(loop: loop, host: "127.0.0.1", port: redis.port) { r in
                guard case .success = r, let c = holder.value else { seen.value.append("\(r)"); return done() }
                c.onDisconnect = { f in
                    seen.value.append(f == nil ? "closed" : "lost: \(f!)")
                    loop.post { count.value = RedisConnection.liveHandles(on: loop); done() }
                }
                if abort { c.abort() } else { c.close() }
                holder.value = nil
                c.send(["PING"]) { seen.value.append("PING after close: \($0)") }
            }
        }
        #expect(finished)
        #expect(seen.value == ["PING after close: disconnected", "closed"])
        #expect(count.value == 0)
    }

    /// A subscribed connection closed from its push callback (the subscribe confirmation).
    @Test func closedInsideAPushCallback() throws {
        let redis = try RedisServer(); defer { redis.stop() }
        let seen = Box<[String]>([])
        let count = Box(-1)
        let finished = onLoop { loop, done in
            let holder = Box<RedisConnection?>(nil)
            holder.value = RedisConnection(loop: loop, host: "127.0.0.1", port: redis.port) { _ in
                guard let c = holder.value else { return done() }
                c.onDisconnect = { f in
                    seen.value.append(f == nil ? "closed" : "lost: \(f!)")
                    loop.post { count.value = RedisConnection.liveHandles(on: loop); done() }
                }
                c.onPush = { r in
                    if case .array(let parts) = r { seen.value.append("push \(parts.first?.string ?? "?")") }
                    holder.value?.close()
                    holder.value = nil
                }
                c.send(["SUBSCRIBE", "a", "b"]) { _ in }
            }
        }
        #expect(finished)
        #expect(seen.value == ["push subscribe", "closed"], "nothing pushed after the close")
        #expect(count.value == 0)
    }

    /// The server goes away with a command pending: its callback (a NULL reply, inside hiredis's
    /// teardown) closes and aborts the connection again.
    @Test func closedInsideTheCallbackOfACommandTheServerDroppedAndDuringTheDisconnect() throws {
        let redis = try RedisServer(); defer { redis.stop() }
        let seen = Box<[String]>([])
        let count = Box(-1)
        let finished = onLoop { loop, done in
            let holder = Box<RedisConnection?>(nil)
            holder.value = RedisConnection(loop: loop, host: "127.0.0.1", port: redis.port) { _ in
                guard let c = holder.value else { return done() }
                c.onDisconnect = { f in
                    seen.value.append(f == nil ? "closed by us?" : "lost")
                    holder.value?.abort()
                    holder.value = nil
                    loop.post { count.value = RedisConnection.liveHandles(on: loop); done() }
                }
                c.send(["QUIT"]) { seen.value.append("QUIT \($0)") }
                c.send(["PING"]) { r in // never answered: the server closed after QUIT
                    seen.value.append("PING \(r)")
                    holder.value?.close()
                    holder.value?.abort()
                }
            }
        }
        #expect(finished)
        #expect(seen.value == ["QUIT status(\"OK\")", "PING disconnected", "lost"])
        #expect(count.value == 0)
    }

    /// RedisHub.leave at shutdown: the link stopped (and let go) inside the reply to its last
    /// command, both connections open.
    @Test func aLinkStoppedInsideACommandReplyClosesBothConnections() throws {
        let redis = try RedisServer(); defer { redis.stop() }
        let seen = Box<[String]>([])
        let weak = WeakBox<RedisLink>()
        let finished = onLoop { loop, done in
            let holder = Box<RedisLink?>(RedisLink(loop: loop, endpoint: RedisEndpoint(host: "127.0.0.1", port: redis.port)))
            weak.value = holder.value
            let up = { @Sendable in
                guard let link = holder.value, link.isUp else { return }
                link.send(["PING"]) { r in
                    seen.value.append("PING \(r)")
                    holder.value?.stop()
                    holder.value = nil
                    // Bounded by onLoop's timeout: both handles freed, the link gone.
                    let poll = Box<RepeatingTimer?>(nil)
                    poll.value = RepeatingTimer(loop: loop, interval: 0.005) {
                        guard RedisConnection.liveHandles(on: loop) == 0 else { return }
                        poll.value?.stop()
                        loop.post { poll.value = nil } // not inside its own callback
                        seen.value.append(weak.value == nil ? "stopped and released" : "link still held")
                        done()
                    }
                }
            }
            holder.value?.onCommandUp = up
            holder.value?.onPubSubUp = up
            holder.value?.start()
        }
        #expect(finished)
        #expect(seen.value == ["PING status(\"PONG\")", "stopped and released"])
    }
}
