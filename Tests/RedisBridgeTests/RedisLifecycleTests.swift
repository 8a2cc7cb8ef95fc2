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
