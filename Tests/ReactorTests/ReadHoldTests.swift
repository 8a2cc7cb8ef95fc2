import Foundation
import Testing
@testable import Reactor

@Suite("Reactor: held reading and writability without buffered output")
struct ReadHoldTests {
    /// Counts what arrives and when the socket drains.
    final class Probe: Socket, @unchecked Sendable {
        var bytes = 0
        var drains = 0
        override func received(_ b: UnsafeMutableRawBufferPointer) -> Int { bytes += b.count; return b.count }
        override func drained() { drains += 1 }
    }

    /// Runs `body` on the loop thread and waits for it (two mailbox round trips: any I/O event
    /// already pending when the first was posted has been handled by the time the second runs).
    static func onLoop<T: Sendable>(_ t: ReactorTests.LoopThread, _ body: @escaping @Sendable () -> T) -> T? {
        let box = ResultBox<T>()
        let done = DispatchSemaphore(value: 0)
        t.loop.post { t.loop.post { box.value = body(); done.signal() } }
        return done.wait(timeout: .now() + 5) == .success ? box.value : nil
    }

    final class ResultBox<T>: @unchecked Sendable { var value: T? }

    @Test func heldSocketReadsNothingUntilReleased() throws {
        let t = ReactorTests.LoopThread(); defer { t.stop() }
        var fds: [Int32] = [0, 0]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0)
        _ = fcntl(fds[0], F_SETFL, O_NONBLOCK)
        let fd = fds[0]
        let probe = Self.onLoop(t) { () -> LoopBox in
            let p = Probe(fd: fd, loop: t.loop)
            p.start()
            p.hold()
            return LoopBox(p)
        }!
        #expect(write(fds[1], "hello", 5) == 5)
        #expect(Self.onLoop(t) { probe.socket.bytes } == 0)
        #expect(Self.onLoop(t) { probe.socket.isHeld } == true)
        _ = Self.onLoop(t) { probe.socket.release() }
        let end = Date().addingTimeInterval(5)
        var got = 0
        while got < 5 && Date() < end { got = Self.onLoop(t) { probe.socket.bytes } ?? 0 }
        #expect(got == 5)
        close(fds[1])
    }

    @Test func awaitWritableCallsDrainedOnceThePeerReads() throws {
        let t = ReactorTests.LoopThread(); defer { t.stop() }
        var fds: [Int32] = [0, 0]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0)
        _ = fcntl(fds[0], F_SETFL, O_NONBLOCK)
        let fd = fds[0]
        // Fill the socket until the kernel refuses more, as a sendfile that got EAGAIN would.
        let probe = Self.onLoop(t) { () -> LoopBox in
            let p = Probe(fd: fd, loop: t.loop)
            p.start()
            var junk = [UInt8](repeating: 1, count: 65536)
            while write(fd, &junk, junk.count) > 0 {}
            p.awaitWritable()
            return LoopBox(p)
        }!
        #expect(Self.onLoop(t) { probe.socket.drains } == 0)
        var sink = [UInt8](repeating: 0, count: 1 << 16)
        var drained = 0
        let end = Date().addingTimeInterval(5)
        while drained == 0 && Date() < end {
            _ = read(fds[1], &sink, sink.count)
            drained = Self.onLoop(t) { probe.socket.drains } ?? 0
        }
        #expect(drained == 1)
        close(fds[1])
    }
}

/// A loop-confined socket carried through `@Sendable` closures that run on its loop.
struct LoopBox: @unchecked Sendable {
    let socket: ReadHoldTests.Probe
    init(_ s: ReadHoldTests.Probe) { socket = s }
}
