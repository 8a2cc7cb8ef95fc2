import Foundation
import Testing
@testable import Reactor
@testable import RedisBridge
import RedisServerSupport

struct RedisTestError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// Runs `body` on a loop thread and waits (bounded) until it calls `done`.
func onLoop(timeout: Double = 10, _ body: @escaping @Sendable (EventLoop, @escaping @Sendable () -> Void) -> Void) -> Bool {
    let loop = EventLoop(sweepInterval: 0.1)
    let finished = DispatchSemaphore(value: 0)
    let exited = DispatchSemaphore(value: 0)
    Thread.detachNewThread { loop.run(); exited.signal() }
    loop.post { body(loop) { finished.signal() } }
    let ok = finished.wait(timeout: .now() + timeout) == .success
    loop.post { loop.stop() }
    _ = exited.wait(timeout: .now() + 5)
    return ok
}

final class Box<T>: @unchecked Sendable { var value: T; init(_ v: T) { value = v } }

@Suite("hiredis async on the libev loop")
struct RedisConnectionTests {
    @Test func subscribeCommandsAreRecognisedInAnyCase() {
        for yes in ["SUBSCRIBE", "subscribe", "PSubscribe", "UNSUBSCRIBE", "punsubscribe"] {
            #expect(RedisConnection.isSubscribeCommand(Array(yes.utf8)), "\(yes)")
        }
        for no in ["EVALSHA", "SUBSCRIBX", "XSUBSCRIBE", "UNSUBSCRIBX", "XUNSUBSCRIBE", "PUBSUBSCRIBE", "SSUBSCRIBE", ""] {
            #expect(!RedisConnection.isSubscribeCommand(Array(no.utf8)), "\(no)")
        }
    }

    @Test func commandsAndRepliesOfEveryType() throws {
        let redis = try RedisServer(); defer { redis.stop() }
        let got = Box<[RedisReply]>([])
        let conn = Box<RedisConnection?>(nil)
        let finished = onLoop { loop, done in
            conn.value = RedisConnection(loop: loop, host: "127.0.0.1", port: redis.port) { result in
                guard case .success = result, let c = conn.value else { done(); return }
                c.send(["SET", "k", "v é"]) { got.value.append($0) }
                c.send(["GET", "k"]) { got.value.append($0) }
                c.send(["INCR", "n"]) { got.value.append($0) }
                c.send(["GET", "missing"]) { got.value.append($0) }
                c.send(["RPUSH", "l", "a", "b"]) { got.value.append($0) }
                c.send(["LRANGE", "l", "0", "-1"]) { got.value.append($0) }
                c.send(["NOSUCHCOMMAND"]) { got.value.append($0); done() }
            }
        }
        #expect(finished)
        #expect(got.value.count == 7)
        guard got.value.count == 7 else { return }
        #expect(got.value[0] == .status("OK"))
        #expect(got.value[1].string == "v é")
        #expect(got.value[2] == .integer(1))
        #expect(got.value[3] == .null)
        #expect(got.value[4] == .integer(2))
        #expect(got.value[5] == .array([.bulk(Array("a".utf8)), .bulk(Array("b".utf8))]))
        if case .error(let e) = got.value[6] { #expect(e.contains("unknown command")) } else { Issue.record("no error reply") }
    }

    @Test func publishReachesASubscriber() throws {
        let redis = try RedisServer(); defer { redis.stop() }
        let pushes = Box<[RedisReply]>([])
        let conns = Box<[RedisConnection]>([])
        let finished = onLoop { loop, done in
            let subBox = Box<RedisConnection?>(nil)
            let sub = RedisConnection(loop: loop, host: "127.0.0.1", port: redis.port) { _ in
                subBox.value?.send(["SUBSCRIBE", "run:r1"]) { _ in }
            }
            subBox.value = sub
            sub.onPush = { r in
                pushes.value.append(r)
                if case .array(let a) = r, a.first?.string == "subscribe" {
                    let pubBox = Box<RedisConnection?>(nil)
                    let pub = RedisConnection(loop: loop, host: "127.0.0.1", port: redis.port) { _ in
                        pubBox.value?.send(["PUBLISH", "run:r1", "{\"seq\":1}"]) { _ in }
                    }
                    pubBox.value = pub
                    conns.value.append(pub)
                }
                if case .array(let a) = r, a.first?.string == "message" { done() }
            }
            conns.value.append(sub)
        }
        #expect(finished)
        let message = pushes.value.last
        #expect(message == .array([.bulk(Array("message".utf8)), .bulk(Array("run:r1".utf8)), .bulk(Array("{\"seq\":1}".utf8))]))
    }

    @Test func refusedConnectFailsWithAClearError() {
        let result = Box<Result<Void, RedisConnection.Failure>?>(nil)
        let conn = Box<RedisConnection?>(nil)
        let finished = onLoop { loop, done in
            conn.value = RedisConnection(loop: loop, host: "127.0.0.1", port: 1) { r in result.value = r; done() }
        }
        #expect(finished)
        if case .failure(let f)? = result.value { #expect(f.message.contains("Connection refused")) } else { Issue.record("connect to port 1 succeeded?") }
    }

    @Test func serverGoingAwayIsReportedAndPendingCommandsFail() throws {
        let redis = try RedisServer()
        let lost = Box<RedisConnection.Failure??>(nil)
        let answers = Box<[String]>([])
        let conn = Box<RedisConnection?>(nil)
        let finished = onLoop { loop, done in
            conn.value = RedisConnection(loop: loop, host: "127.0.0.1", port: redis.port) { _ in
                conn.value?.onDisconnect = { f in lost.value = .some(f); done() }
                for i in 0..<3 { // blocked in Redis until it goes away
                    conn.value?.send(["BLPOP", "nothing-\(i)", "0"]) { r in answers.value.append(r == .disconnected ? "lost \(i)" : "\(r)") }
                }
                conn.value?.flush()
                Thread.detachNewThread { redis.stop() } // kill the server under the connection, off the loop
            }
        }
        #expect(finished)
        if case .some(.some(let f)) = lost.value { #expect(f.message.contains("lost")) } else { Issue.record("no disconnect reported: \(String(describing: lost.value))") }
        #expect(answers.value == ["lost 0", "lost 1", "lost 2"], "every pending command fails, in order")
    }
}
