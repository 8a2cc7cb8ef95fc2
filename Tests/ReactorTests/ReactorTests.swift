import Foundation
import Testing
@testable import Reactor

@Suite("Reactor: loop, mailbox, worker pool, buffered writes")
struct ReactorTests {
    /// Runs a loop on its own thread; `stop` ends it and waits (bounded).
    final class LoopThread: @unchecked Sendable {
        let loop = EventLoop(sweepInterval: 0.05)
        let done = DispatchSemaphore(value: 0)
        init() { let l = loop, d = done; Thread.detachNewThread { l.run(); d.signal() } }
        func stop() { let l = loop; l.post { l.stop() }; _ = done.wait(timeout: .now() + 10) }
    }

    @Test func loopUsesEpoll() {
        let loop = EventLoop()
        #expect(loop.backend == 4) // EVBACKEND_EPOLL
    }

    @Test func mailboxRunsEveryPostOnTheLoopThreadInOrderPerSender() throws {
        let t = LoopThread(); defer { t.stop() }
        final class Sink: @unchecked Sendable { var seen: [[Int]] = Array(repeating: [], count: 4); var threads = Set<UInt>() }
        let sink = Sink()
        let all = DispatchSemaphore(value: 0)
        DispatchQueue.concurrentPerform(iterations: 4) { sender in
            for i in 0..<1000 {
                t.loop.post {
                    sink.seen[sender].append(i)
                    sink.threads.insert(UInt(pthread_self()))
                    if sink.seen.allSatisfy({ $0.count == 1000 }) { all.signal() }
                }
            }
        }
        #expect(all.wait(timeout: .now() + 10) == .success)
        #expect(sink.seen.allSatisfy { $0 == Array(0..<1000) })
        #expect(sink.threads.count == 1)
    }

    @Test func workerPoolResultsComeBackOnTheLoop() throws {
        let t = LoopThread(); defer { t.stop() }
        let pool = WorkerPool(threads: 3); defer { pool.shutdown() }
        final class Sink: @unchecked Sendable { var sum = 0; var count = 0; var workerThreads = Set<UInt>() }
        let sink = Sink()
        let lock = NSLock()
        let finished = DispatchSemaphore(value: 0)
        for i in 1...500 {
            pool.submit(on: t.loop, {
                lock.lock(); sink.workerThreads.insert(UInt(pthread_self())); lock.unlock()
                return i * 2
            }) { v in
                sink.sum += v; sink.count += 1
                if sink.count == 500 { finished.signal() }
            }
        }
        #expect(finished.wait(timeout: .now() + 10) == .success)
        #expect(sink.sum == 500 * 501)
        #expect(sink.workerThreads.count >= 1 && !sink.workerThreads.contains(UInt(pthread_self())))
    }

    /// A retry timer clears itself from inside its action (as `RedisLink` does): whatever the
    /// action captured must outlive that, or the rest of the action reads freed memory.
    @Test func aTimerActionThatDropsItsOwnTimerKeepsItsCapturesUntilItReturns() throws {
        let t = LoopThread(); defer { t.stop() }
        final class Probe {}
        final class Holder: @unchecked Sendable {
            var timer: RepeatingTimer?
            weak var probe: Probe?
            var probeAliveAfterDrop: Bool?
        }
        let holder = Holder()
        let fired = DispatchSemaphore(value: 0)
        t.loop.post {
            let probe = Probe() // owned by the action's closure alone
            holder.probe = probe
            holder.timer = RepeatingTimer(loop: t.loop, interval: 0.001) {
                guard holder.probeAliveAfterDrop == nil else { return }
                withExtendedLifetime(probe) {}
                holder.timer = nil // the last reference to the timer, and so to this closure
                holder.probeAliveAfterDrop = holder.probe != nil
                fired.signal()
            }
        }
        #expect(fired.wait(timeout: .now() + 10) == .success)
        let settled = DispatchSemaphore(value: 0)
        t.loop.post { settled.signal() }
        #expect(settled.wait(timeout: .now() + 10) == .success)
        #expect(holder.probeAliveAfterDrop == true)
        #expect(holder.probe == nil) // and released once the action returned
    }

    @Test func shortWritesArmTheWatcherAndEveryByteArrives() throws {
        let t = LoopThread(); defer { t.stop() }
        var fds: [Int32] = [0, 0]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0)
        _ = fcntl(fds[0], F_SETFL, O_NONBLOCK)
        let total = 8 << 20
        let ready = DispatchSemaphore(value: 0)
        let serverFD = fds[0]
        t.loop.post {
            let s = Socket(fd: serverFD, loop: t.loop)
            s.start()
            var pattern = [UInt8](repeating: 0, count: total)
            for i in 0..<total { pattern[i] = UInt8(truncatingIfNeeded: i &* 31) }
            pattern.withUnsafeBytes { s.output.append($0) }
            s.markForFlush()
            ready.signal()
        }
        #expect(ready.wait(timeout: .now() + 5) == .success)
        var got = [UInt8](); got.reserveCapacity(total)
        var chunk = [UInt8](repeating: 0, count: 65536)
        let end = Date().addingTimeInterval(20)
        while got.count < total && Date() < end {
            var p = pollfd(fd: fds[1], events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, 1000) > 0 else { continue }
            let n = read(fds[1], &chunk, chunk.count)
            if n <= 0 { break }
            got.append(contentsOf: chunk[0..<n])
        }
        #expect(got.count == total)
        #expect(got.indices.allSatisfy { got[$0] == UInt8(truncatingIfNeeded: $0 &* 31) })
        close(fds[1])
    }

    @Test func byteBufferGrowsCompactsAndReleases() {
        var b = ByteBuffer()
        let empty = b.base == nil
        #expect(empty)
        b.append("hello ")
        b.append(decimal: 12345)
        b.append(decimal: 0)
        let text = String(decoding: UnsafeRawBufferPointer(b.readable), as: UTF8.self)
        #expect(text == "hello 123450")
        b.consume(6)
        let left = b.readableCount
        #expect(left == 6)
        let big = [UInt8](repeating: 7, count: 5000)
        big.withUnsafeBytes { b.append($0) }
        let (count, capacity) = (b.readableCount, b.capacity)
        #expect(count == 5006 && capacity >= 5006)
        b.consume(5006)
        let drained = b.isEmpty
        #expect(drained)
        b.releaseIfEmpty()
        let released = b.base == nil && b.capacity == 0
        #expect(released)
    }
}
