import ArgumentParser
import CShimSys
import Foundation
import Reactor
#if canImport(Glibc)
import Glibc
#endif

/// Worker processes of one bench run: one process holds at most ~19,900 sockets (the fd limit
/// here is 20,000 and cannot be raised), so `idle` and `fanout` past that re-execute the bench
/// binary once per share of connections and coordinate them through pipes.
///
/// The line protocol (one line each way, newline-terminated):
/// - worker → parent, on its stdout: `ready <opened> <failed>` once its connections are open;
///   scenario lines such as `published <n0,n1,…>`; last, its result as one JSON object.
///   Progress text goes to stderr, which workers share with the parent.
/// - parent → worker, on its stdin: `go` (the barrier: every worker is ready) and forwarded
///   scenario lines. End of file means the parent is gone: the worker stops.
final class WorkerFleet {
    struct Worker {
        var pid: pid_t
        var input: Int32
        var output: Int32
        var pending: [UInt8] = []
        var open = true
        var ready = false
        var result: [String: String]?
    }

    private(set) var workers: [Worker] = []

    /// Spawns `arguments.count` workers: `executable` with each argument list (argv[0] is added).
    init(executable: String, arguments: [[String]]) throws {
        for args in arguments {
            do { workers.append(try Self.spawn(executable, args)) } catch {
                terminate()
                throw error
            }
        }
    }

    /// The executable of this process (what the parent re-executes).
    static var ownExecutable: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }

    private static func spawn(_ executable: String, _ args: [String]) throws -> Worker {
        var toChild: [Int32] = [0, 0], fromChild: [Int32] = [0, 0]
        var rc = CShim_pipe_cloexec(&toChild)
        guard rc == 0 else { throw ValidationError("pipe2: errno \(-rc)") }
        rc = CShim_pipe_cloexec(&fromChild)
        guard rc == 0 else {
            Glibc.close(toChild[0]); Glibc.close(toChild[1])
            throw ValidationError("pipe2: errno \(-rc)")
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        // dup2 clears close-on-exec on the child's 0 and 1; every other pipe end stays closed
        // in the child, so a worker sees end of file when the parent goes away.
        posix_spawn_file_actions_adddup2(&actions, toChild[0], 0)
        posix_spawn_file_actions_adddup2(&actions, fromChild[1], 1)
        let argv: [UnsafeMutablePointer<CChar>?] = (["runwire-bench"] + args).map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var pid: pid_t = 0
        rc = posix_spawn(&pid, executable, &actions, nil, argv, environ)
        Glibc.close(toChild[0])
        Glibc.close(fromChild[1])
        guard rc == 0 else {
            Glibc.close(toChild[1]); Glibc.close(fromChild[0])
            throw ValidationError("posix_spawn \(executable): error \(rc)")
        }
        return Worker(pid: pid, input: toChild[1], output: fromChild[0])
    }

    /// Writes one line to worker `i`'s stdin (ignored once the worker is gone).
    func send(_ line: String, to i: Int) {
        guard workers[i].input >= 0 else { return }
        var bytes = Array((line + "\n").utf8)
        var at = 0
        while at < bytes.count {
            let n = bytes.withUnsafeMutableBytes { write(workers[i].input, $0.baseAddress! + at, $0.count - at) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { Glibc.close(workers[i].input); workers[i].input = -1; return }
            at += n
        }
    }

    func sendAll(_ line: String) { for i in workers.indices { send(line, to: i) } }

    var allReady: Bool { workers.allSatisfy { $0.ready || !$0.open } }
    var allReported: Bool { workers.allSatisfy { $0.result != nil || !$0.open } }

    /// Reads worker lines until `done()` or `deadline` (monotonic seconds, `wallNow()`): `ready`
    /// lines and JSON results are recorded, every other line goes to `onLine(worker, line)`.
    func pump(until deadline: Double, onLine: (Int, String) -> Void = { _, _ in }, done: () -> Bool) {
        while !done() {
            let left = deadline - wallNow()
            let live = workers.indices.filter { workers[$0].open }
            guard left > 0, !live.isEmpty else { return }
            var fds = live.map { pollfd(fd: workers[$0].output, events: Int16(POLLIN), revents: 0) }
            let n = poll(&fds, nfds_t(fds.count), Int32(min(left, 1) * 1000) + 1)
            guard n > 0 else { continue }
            for (k, i) in live.enumerated() where fds[k].revents != 0 { readLines(i, onLine) }
        }
    }

    private func readLines(_ i: Int, _ onLine: (Int, String) -> Void) {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let n = chunk.withUnsafeMutableBytes { read(workers[i].output, $0.baseAddress!, $0.count) }
        if n < 0 && errno == EINTR { return }
        guard n > 0 else {
            workers[i].open = false
            Glibc.close(workers[i].output)
            return
        }
        workers[i].pending += chunk[0..<n]
        while let nl = workers[i].pending.firstIndex(of: 10) {
            let line = String(decoding: workers[i].pending[..<nl], as: UTF8.self)
            workers[i].pending.removeSubrange(...nl)
            if line.hasPrefix("ready") {
                workers[i].ready = true
            } else if line.hasPrefix("{"), let r = Self.parseResult(line) {
                workers[i].result = r
            } else {
                onLine(i, line)
            }
        }
    }

    /// One `emit(…, json: true)` line back as the text fields it was written from (`jsonLine`
    /// types them): numbers as their digits, booleans as `true`/`false`, null as `n/a`.
    static func parseResult(_ line: String) -> [String: String]? {
        guard let o = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] else { return nil }
        return o.compactMapValues { v -> String? in
            switch v {
            case let s as String: return s
            case is NSNull: return "n/a"
            // A JSON boolean is the NSNumber of a char ("c"); a JSON number never is.
            case let n as NSNumber: return String(cString: n.objCType) == "c" ? (n.boolValue ? "true" : "false") : n.stringValue
            default: return nil
            }
        }
    }

    /// Waits for every worker to exit; at `deadline` the stragglers get SIGTERM, a second
    /// later SIGKILL. Returns how many exited other than with status 0.
    @discardableResult
    func reap(deadline: Double) -> Int {
        var failed = 0
        for i in workers.indices {
            if workers[i].input >= 0 { Glibc.close(workers[i].input); workers[i].input = -1 }
            if workers[i].open { Glibc.close(workers[i].output); workers[i].open = false }
            var status: Int32 = 0
            var signalled = 0
            while true {
                let r = waitpid(workers[i].pid, &status, WNOHANG)
                if r == workers[i].pid || (r < 0 && errno != EINTR) { break }
                if wallNow() > deadline + Double(signalled) {
                    kill(workers[i].pid, signalled == 0 ? SIGTERM : SIGKILL)
                    signalled += 1
                }
                var ts = timespec(tv_sec: 0, tv_nsec: 10_000_000)
                nanosleep(&ts, nil)
            }
            // WIFEXITED and WEXITSTATUS are macros: exited normally with 0 ⇔ status == 0.
            if status != 0 { failed += 1 }
        }
        return failed
    }

    /// Ends every worker now (used when spawning fails half-way).
    func terminate() {
        for w in workers { kill(w.pid, SIGTERM) }
        reap(deadline: wallNow() + 1)
    }
}

/// Which share of a multi-process run this process is: `--worker i/P`.
struct WorkerRole: Equatable {
    var index: Int
    var count: Int

    init?(_ text: String) {
        let parts = text.split(separator: "/")
        guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]), n >= 1, i >= 0, i < n else { return nil }
        index = i
        count = n
    }

    var label: String { "\(index)/\(count)" }

    /// Worker `index`'s share of `total` items (the first `total % count` get one more).
    static func share(_ total: Int, index: Int, count: Int) -> Int { total / count + (index < total % count ? 1 : 0) }

    /// The source addresses worker `index` uses: its own slice when there are at least as many
    /// addresses as workers, else all of them (the kernel still gives each socket its own port).
    static func sources(_ all: [String], index: Int, count: Int) -> [String] {
        guard all.count >= count else { return all }
        return all.indices.filter { $0 % count == index }.map { all[$0] }
    }
}

/// A worker's end of the pipe to its parent: stdin read on the worker's loop, line by line.
final class ParentLink: Socket {
    private let onLine: (String) -> Void

    /// Starts reading stdin on `loop`; `onLine` gets each line, and `""` once at end of file.
    init(loop: EventLoop, onLine: @escaping (String) -> Void) {
        self.onLine = onLine
        _ = fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK)
        super.init(fd: 0, loop: loop)
        start()
    }

    override func received(_ bytes: UnsafeMutableRawBufferPointer) -> Int {
        var at = 0
        while let nl = bytes[at...].firstIndex(of: 10) {
            onLine(String(decoding: UnsafeRawBufferPointer(rebasing: bytes[at..<nl]), as: UTF8.self))
            at = nl + 1
        }
        return at
    }

    override func peerClosed() {
        close()
        onLine("")
    }

    /// Tells the parent one line (stdout is the protocol channel in a worker).
    static func tell(_ line: String) {
        print(line) // stdout is line-buffered (CShim_stdout_line_buffered): one write per line
    }
}

/// Progress text: stdout for a standalone run, stderr (tagged) in a worker, whose stdout is the
/// line protocol to its parent.
func progress(_ text: String, worker: WorkerRole?) {
    if let worker {
        FileHandle.standardError.write(Data("[worker \(worker.label)] \(text)\n".utf8))
    } else {
        print(text)
    }
}
