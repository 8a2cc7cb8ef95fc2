import ArgumentParser
import CShimSys
import Foundation
import Reactor
import RedisBridge
#if canImport(Glibc)
import Glibc
#endif

/// `runwire-bench redis-rtt`: round trips to redis-server through the server's own Redis client
/// (`RedisLink`: hiredis async on the reactor's libev loop, a command and a pub/sub connection),
/// with requests spaced like a load's publishes: what Redis alone costs on a machine, set
/// beside what it adds to a Runwire publish (`perf/redis-vs-embedded`).
struct RedisRTT: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "redis-rtt",
        abstract: "Round trips to redis-server through Runwire's Redis client: PING, EVALSHA of 'return 1', and Runwire's publish script until its message arrives.",
        discussion: """
        Kinds take turns, one request in flight at a time. The publish goes to run "rtt" (keys rw:{rtt}:*, removed at \
        the end); its sample ends when the message arrives on the subscribed connection.
        """
    )
    @Option(help: "redis-server as 127.x.x.x:PORT (loopback only).") var redis: String = "127.0.0.1:6379"
    @Option(help: "Milliseconds between requests (0: each as soon as the previous one is answered).") var interval: Double = 10
    @Option(help: "Samples of each kind (after one warm-up request each).") var samples: Int = 300
    @Option(help: "Pin to these CPUs (comma-separated).") var cpu: String?
    @Flag(help: "One JSON object instead of a table.") var json = false

    func run() throws {
        emit("redis-rtt", try results(), json: json)
    }

    func results() throws -> [String: String] {
        // The loopback rule is `loopbackTarget`'s (given a scheme); an address has no path.
        guard !redis.contains("/"), let target = try? loopbackTarget("redis://" + redis, scheme: "redis", option: "--redis"),
              (1...65535).contains(target.port) else {
            throw ValidationError("--redis must be 127.x.x.x:PORT (loopback only), not '\(redis)'")
        }
        guard interval >= 0 && interval <= 1000, samples >= 1 && samples <= 100_000 else {
            throw ValidationError("bounds: --interval 0-1000 ms, --samples 1-100000")
        }
        CShim_stdout_line_buffered()
        try pin(cpu)
        let s = RedisRTTScenario(endpoint: RedisEndpoint(host: target.host, port: target.port), interval: interval / 1000,
                                 samples: samples)
        let r = s.run()
        if let failure = s.failure { throw RedisRTTFailure(description: "redis-rtt: \(failure)") }
        return r
    }
}

/// Why a `redis-rtt` run produced no numbers (Redis unreachable, a script error, out of time).
struct RedisRTTFailure: Error, CustomStringConvertible {
    let description: String
}

final class RedisRTTScenario {
    enum Kind: Int, CaseIterable { case ping, evalNoop, publish }

    private let loop = EventLoop(sweepInterval: 0.25)
    private let link: RedisLink
    private let flusher: Flusher
    private let interval: Double
    private let samples: Int
    private static let noop = RedisScript("return 1")
    private static let run = "rtt"
    private static let keys = [RedisScripts.meta(run), RedisScripts.hist(run), RedisScripts.channel(run)]
    private static let publishArgs = [run, "2026-01-01T00:00:00.000Z", "1000", "600", "e-rtt", "0",
                                      "{\"kind\":\"log\",\"line\":\"a line of a test's output, about as long as a real one\"}"].map { Array($0.utf8) }
    private var timer: RepeatingTimer?
    private var rtts: [Histogram]
    private var turn = 0
    private var warm: Set<Int> = []
    private var inFlight: Kind?
    private var sentAt = 0.0
    private var messageAt = 0.0
    private var replied = false
    private var started = false
    private var subscribed = false
    private var giveUp = 0.0
    private(set) var failure: String?

    /// Writes the link's buffered commands before the loop sleeps (the server does the same).
    private final class Flusher: PrepareHook {
        unowned let link: RedisLink
        init(_ link: RedisLink) { self.link = link }
        override func beforeFlush() { link.flush() }
    }

    init(endpoint: RedisEndpoint, interval: Double, samples: Int) {
        self.interval = interval
        self.samples = samples
        rtts = Array(repeating: Histogram(), count: Kind.allCases.count)
        link = RedisLink(loop: loop, endpoint: endpoint, pubsub: true, connectTimeout: 2, commandTimeout: 5)
        flusher = Flusher(link)
        loop.prepareHook = flusher
    }

    func run() -> [String: String] {
        // Bounded: connecting, every sample at its spacing, plus a minute of slack.
        giveUp = wallNow() + 60 + Double(samples * Kind.allCases.count) * (interval + 0.01)
        link.onCommandUp = { [unowned self] in self.ready() }
        link.onPubSubUp = { [unowned self] in self.link.subscribe([Self.keys[2]]) }
        link.onSubscribed = { [unowned self] _ in self.subscribed = true; self.ready() }
        link.onMessage = { [unowned self] _, _ in
            guard self.inFlight == .publish, self.messageAt == 0 else { return }
            self.messageAt = wallNow()
            self.completeIfDone()
        }
        link.onDown = { [unowned self] _, reason in self.fail("Redis went away: \(reason)") }
        loop.onSweep = { [unowned self] _ in
            if wallNow() > self.giveUp { self.fail("not done in time: \(self.rtts.map(\.total)) samples") }
        }
        link.start()
        loop.run()
        timer?.stop()
        link.onDown = nil
        link.stop()
        var out: [String: String] = ["intervalMs": String(format: "%g", interval * 1000), "samples": "\(samples)"]
        for k in Kind.allCases {
            let h = rtts[k.rawValue]
            guard h.total > 0 else { continue }
            out["\(k)P50us"] = "\(h.percentile(0.5))" // as every scenario's p50us: the top of its bucket
            out["\(k)P99us"] = "\(h.percentile(0.99))"
        }
        return out
    }

    private func ready() {
        guard !started, link.commandReady, subscribed else { return }
        started = true
        if interval > 0 {
            timer = RepeatingTimer(loop: loop, interval: interval) { [unowned self] in
                if self.inFlight == nil { self.fire() }
            }
        } else {
            fire()
        }
    }
    private func fire() {
        guard failure == nil else { return }
        let kind = Kind.allCases[turn % Kind.allCases.count]
        inFlight = kind
        replied = false
        messageAt = 0
        sentAt = wallNow()
        let answer: (RedisReply) -> Void = { [unowned self] r in
            switch r {
            case .error(let e): self.fail("\(kind) answered: \(e)")
            case .disconnected: self.fail("\(kind): connection lost")
            default:
                if kind != .publish { self.messageAt = wallNow() }
                self.replied = true
                self.completeIfDone()
            }
        }
        switch kind {
        case .ping: link.send(["PING"], reply: answer)
        case .evalNoop: link.eval(Self.noop, keys: [], args: [], reply: answer)
        case .publish: link.eval(RedisScripts.publish, keys: Self.keys, args: Self.publishArgs, reply: answer)
        }
    }

    private func completeIfDone() {
        guard let kind = inFlight, replied, messageAt > 0 else { return }
        inFlight = nil
        if warm.contains(kind.rawValue) {
            rtts[kind.rawValue].record(UInt64(((messageAt - sentAt) * 1e6).rounded()))
        } else {
            warm.insert(kind.rawValue) // the first of each kind loads its script: not a sample
        }
        turn += 1
        if rtts.allSatisfy({ $0.total >= UInt64(samples) }) {
            timer?.stop() // no request after the last sample
            link.send([Array("DEL".utf8), Self.keys[0], Self.keys[1]]) { [unowned self] _ in self.loop.stop() }
            return
        }
        if interval == 0 { fire() }
    }

    private func fail(_ why: String) {
        guard failure == nil else { return }
        failure = why
        loop.stop()
    }
}
