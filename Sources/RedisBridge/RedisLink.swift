import CShimCrypto
import Reactor

/// Where and how to reach Redis: one server (`host`, `port`), or the master that a group of
/// sentinels names (`sentinels`); optional password (`AUTH`, for the data nodes) and database
/// (`SELECT`).
public struct RedisEndpoint: Sendable, Equatable {
    public var host: String
    public var port: Int
    public var password: String?
    public var database: Int
    /// An ACL user (`AUTH user password`), nil for the default user.
    public var username: String?
    /// With Redis Sentinel: the sentinels to ask for the master's address (`host` and `port`
    /// are then unused).
    public var sentinels: RedisSentinels?

    public init(host: String, port: Int, password: String? = nil, database: Int = 0, username: String? = nil,
                sentinels: RedisSentinels? = nil) {
        self.host = host
        self.port = port
        self.password = password
        self.database = database
        self.username = username
        self.sentinels = sentinels
    }

    /// For logs and readiness: `host:port`, or the sentinels and the master's name.
    public var address: String {
        guard let s = sentinels else { return "\(host):\(port)" }
        return "master '\(s.masterName)' of sentinels \(s.nodes.map(\.description).joined(separator: ","))"
    }
}

/// A Redis Sentinel group: the sentinels (asked in turn), the name of the master they watch,
/// and the sentinels' own password when they need one (`REDIS_SENTINEL_PASSWORD`).
public struct RedisSentinels: Sendable, Equatable {
    public var nodes: [RedisNode]
    public var masterName: String
    public var password: String?

    public init(nodes: [RedisNode], masterName: String, password: String? = nil) {
        self.nodes = nodes
        self.masterName = masterName
        self.password = password
    }
}

/// One Redis process's address; its description is `host:port`.
public struct RedisNode: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public var description: String { "\(host):\(port)" }
}

/// The two connections a Runwire instance keeps to Redis — one for commands, one in
/// subscribe mode — each reconnected on its own with exponential backoff and jitter
/// (hiredis has no reconnect). Confined to its loop's thread.
///
/// The owner learns when each side comes up (`onCommandUp`, `onPubSubUp`: resubscribe and
/// catch up there) and goes down (`onDown`), and drives `check(now:)` from its sweep: it
/// pings an idle command connection and drops one whose oldest command waited longer than
/// `commandTimeout` (a hung or unreachable server), which then reconnects.
public final class RedisLink {
    public let endpoint: RedisEndpoint
    private let loop: EventLoop
    private let connectTimeout: Double
    private let commandTimeout: Double
    private let wantsPubSub: Bool

    private var command: RedisConnection?
    private var pubsub: RedisConnection?
    /// True once the connection is established and AUTH/SELECT succeeded.
    public private(set) var commandReady = false
    public private(set) var pubsubReady = false
    /// Why the link is not (fully) up, for readiness and logs; empty when it is.
    public private(set) var problem = "connecting to Redis"
    /// Commands not yet handed their answer, in the order sent: answers are handed over in
    /// that order even when one needed a second round trip (`EVAL` after `NOSCRIPT`).
    private var slots: [Slot] = []
    private var slotsHead = 0
    private var delivering = false
    private var lastPing = 0.0
    private var commandAttempts = 0
    private var pubsubAttempts = 0
    private var commandRetry: RepeatingTimer?
    private var pubsubRetry: RepeatingTimer?
    private var stopped = false

    /// The command connection is ready (first time and after every reconnect).
    public var onCommandUp: (() -> Void)?
    /// The subscribe connection is ready: subscribe to every channel of interest again.
    public var onPubSubUp: (() -> Void)?
    /// A connection was lost or could not be made (`pubsub` tells which); the text says why.
    public var onDown: ((_ pubsub: Bool, _ reason: String) -> Void)?
    /// A message on a subscribed channel.
    public var onMessage: ((_ channel: [UInt8], _ payload: [UInt8]) -> Void)?
    /// Redis confirmed a subscription to `channel`.
    public var onSubscribed: ((_ channel: [UInt8]) -> Void)?

    /// Starts connecting (`pubsub: false` keeps only the command connection).
    public init(loop: EventLoop, endpoint: RedisEndpoint, pubsub: Bool = true,
                connectTimeout: Double = 2, commandTimeout: Double = 5) {
        self.loop = loop
        self.endpoint = endpoint
        self.connectTimeout = connectTimeout
        self.commandTimeout = commandTimeout
        wantsPubSub = pubsub
    }

    /// A link let go without `stop()` stops: its connections would otherwise stay open (each
    /// is kept alive until it is closed).
    deinit { stop() }

    /// Connects both sides (call once, on the loop's thread).
    public func start() {
        connectCommand()
        if wantsPubSub { connectPubSub() }
    }

    /// Both wanted connections are ready.
    public var isUp: Bool { commandReady && (pubsubReady || !wantsPubSub) }

    // MARK: Commands

    /// Sends a command on the command connection; `reply` gets `.disconnected` at once when it
    /// is not ready, or later when it is lost before answering.
    public func send(_ args: [[UInt8]], reply: @escaping (RedisReply) -> Void) {
        send(args, fallback: nil, reply: reply)
    }

    private func send(_ args: [[UInt8]], fallback: RedisScript?, reply: @escaping (RedisReply) -> Void) {
        guard commandReady, command != nil else { reply(.disconnected); return }
        let slot = Slot(sentAt: loop.now, deliver: reply)
        slots.append(slot)
        issue(args, slot, fallback: fallback)
    }

    /// Sends `args`; with a `fallback` script, `args` is `EVALSHA sha …` and a `NOSCRIPT`
    /// answer resends it as `EVAL <source> …` (built only then).
    private func issue(_ args: [[UInt8]], _ slot: Slot, fallback: RedisScript?) {
        guard commandReady, let c = command else { return complete(slot, .disconnected) }
        c.send(args) { [weak self] r in
            guard let self, slot.reply == nil else { return }
            if let fallback, case .error(let e) = r, e.hasPrefix("NOSCRIPT") {
                var eval = args
                eval[0] = Array("EVAL".utf8)
                eval[1] = Array(fallback.source.utf8)
                self.issue(eval, slot, fallback: nil)
            } else {
                self.complete(slot, r)
                // A master demoted under us (a failover): nothing was written; reconnect, and
                // with sentinels ask them for the new master.
                if case .error(let e) = r, e.hasPrefix("READONLY"), self.command === c {
                    self.dropCommand("Redis at \(self.server.map(\.description) ?? "?") is a replica now (READONLY)")
                }
            }
        }
    }

    private func complete(_ slot: Slot, _ r: RedisReply) {
        guard slot.reply == nil else { return }
        slot.reply = r
        guard !delivering else { return }
        delivering = true
        while slotsHead < slots.count, let answer = slots[slotsHead].reply {
            let s = slots[slotsHead]
            slotsHead += 1
            s.deliver(answer)
        }
        if slotsHead == slots.count { slots.removeAll(keepingCapacity: true); slotsHead = 0 }
        delivering = false
    }

    /// A command in flight.
    private final class Slot {
        let sentAt: Double
        let deliver: (RedisReply) -> Void
        var reply: RedisReply?
        init(sentAt: Double, deliver: @escaping (RedisReply) -> Void) {
            self.sentAt = sentAt
            self.deliver = deliver
        }
    }

    /// Writes both connections' buffered commands now (the owner calls it before the loop
    /// sleeps, saving a loop pass per round trip).
    public func flush() {
        command?.flush()
        pubsub?.flush()
    }

    private static let evalsha = Array("EVALSHA".utf8)

    /// Sends a command of text arguments.
    public func send(_ args: [String], reply: @escaping (RedisReply) -> Void) {
        send(args.map { Array($0.utf8) }, reply: reply)
    }

    /// Runs `script` with `EVALSHA` (its SHA-1 computed here), falling back to `EVAL` — which
    /// also caches it on the server — when Redis answers `NOSCRIPT` (after a restart or
    /// `SCRIPT FLUSH`).
    public func eval(_ script: RedisScript, keys: [[UInt8]], args: [[UInt8]], reply: @escaping (RedisReply) -> Void) {
        var command: [[UInt8]] = [Self.evalsha, script.sha1Bytes, Array(String(keys.count).utf8)]
        command.reserveCapacity(3 + keys.count + args.count)
        command.append(contentsOf: keys)
        command.append(contentsOf: args)
        send(command, fallback: script, reply: reply)
    }

    // MARK: Subscriptions

    /// Subscribes the pub/sub connection to `channels` (one command; confirmations arrive
    /// through `onSubscribed`). Ignored while it is down: `onPubSubUp` is the time to resubscribe.
    public func subscribe(_ channels: [[UInt8]]) {
        guard pubsubReady, let p = pubsub, !channels.isEmpty else { return }
        p.send([Array("SUBSCRIBE".utf8)] + channels) { _ in }
    }

    /// Unsubscribes from `channels`.
    public func unsubscribe(_ channels: [[UInt8]]) {
        guard pubsubReady, let p = pubsub, !channels.isEmpty else { return }
        p.send([Array("UNSUBSCRIBE".utf8)] + channels) { _ in }
    }

    // MARK: Health

    /// From the owner's sweep: pings an idle command connection once a second and drops a
    /// connection whose oldest command has waited longer than `commandTimeout`.
    public func check(now: Double) {
        guard commandReady else { return }
        let waited = stalledFor(now: now)
        if waited > commandTimeout {
            dropCommand("Redis did not answer for \(Int(waited)) s")
            return
        }
        if slotsHead == slots.count && now - lastPing >= 1 {
            lastPing = now
            send(["PING"]) { _ in }
        }
    }

    /// Whether commands sent on the command connection await their answers.
    public var hasPendingCommands: Bool { slotsHead < slots.count }

    /// Seconds the oldest unanswered command has waited (0 when none).
    public func stalledFor(now: Double) -> Double {
        slotsHead < slots.count ? now - slots[slotsHead].sentAt : 0
    }

    /// Closes both connections for good. Safe anywhere, also inside the link's own callbacks
    /// (the reply to its last command, as at shutdown): each connection finishes closing once
    /// hiredis has returned; commands already sent still get their answers (or `.disconnected`).
    public func stop() {
        stopped = true
        commandRetry?.stop(); pubsubRetry?.stop()
        for ask in asking.values { ask.end() }
        asking.removeAll()
        command?.onDisconnect = nil; pubsub?.onDisconnect = nil
        command?.close(); pubsub?.close()
        command = nil; pubsub = nil
        commandReady = false; pubsubReady = false
    }

    // MARK: Connecting

    private func connectCommand() {
        guard !stopped else { return }
        command = open(pubsub: false)
    }

    private func connectPubSub() {
        guard !stopped else { return }
        pubsub = open(pubsub: true)
    }

    /// The sentinel each side is asking now (keyed by `pubsub`), closed by `stop()`.
    private var asking: [Bool: SentinelAsk] = [:]

    /// The server the command connection was last connected to (with sentinels: the master
    /// they named then); nil before the first connection.
    public private(set) var server: RedisNode?

    /// Opens one connection, authenticates, selects the database and checks with `ROLE` that
    /// the server is a master (a replica refuses writes; connecting to one again and again
    /// would only fail), then reports it up. With sentinels, asks them for the master's address
    /// first (each connection on its own, so a reconnect after a failover asks again).
    private func open(pubsub isPubSub: Bool) -> RedisConnection? {
        guard let group = endpoint.sentinels else {
            return connect(RedisNode(host: endpoint.host, port: endpoint.port), pubsub: isPubSub, sentinelsNamed: nil)
        }
        askSentinels(group, from: 0, pubsub: isPubSub, lastProblem: "")
        return nil
    }

    /// `sentinelsNamed`: the master's name, when the sentinels gave this address.
    private func connect(_ node: RedisNode, pubsub isPubSub: Bool, sentinelsNamed: String?) -> RedisConnection {
        var conn: RedisConnection!
        conn = RedisConnection(loop: loop, host: node.host, port: node.port, connectTimeout: connectTimeout) { [weak self] result in
            guard let self, !self.stopped else { return }
            switch result {
            case .failure(let f):
                self.failed(pubsub: isPubSub, sentinelsNamed == nil ? f.message : "the master \(node) that the sentinels name: \(f.message)")
            case .success:
                self.handshake(conn, pubsub: isPubSub, node: node, sentinelsNamed: sentinelsNamed)
            }
        }
        return conn
    }

    /// Asks sentinel `i` (then the next ones) for the master's address, then connects to it.
    /// Each sentinel gets `commandTimeout` to connect and answer; then the next one is asked.
    private func askSentinels(_ group: RedisSentinels, from i: Int, pubsub isPubSub: Bool, lastProblem: String) {
        guard !stopped else { return }
        guard i < group.nodes.count else {
            return failed(pubsub: isPubSub, "no sentinel named the master '\(group.masterName)': \(lastProblem)")
        }
        let node = group.nodes[i]
        let at = "sentinel \(node)"
        let ask = SentinelAsk()
        asking[isPubSub] = ask
        // Ends this sentinel's turn once: with the master's address, or with why not.
        let finish = { [weak self, weak ask] (master: RedisNode?, problem: String) in
            guard let self, let ask, self.asking[isPubSub] === ask else { return }
            self.asking[isPubSub] = nil
            ask.end()
            guard !self.stopped else { return }
            if let master {
                if isPubSub { self.pubsub = self.connect(master, pubsub: true, sentinelsNamed: group.masterName) }
                else { self.command = self.connect(master, pubsub: false, sentinelsNamed: group.masterName) }
            } else {
                self.askSentinels(group, from: i + 1, pubsub: isPubSub, lastProblem: "\(at) \(problem)")
            }
        }
        let seconds = Int(commandTimeout)
        ask.deadline = RepeatingTimer(loop: loop, interval: commandTimeout) { finish(nil, "did not answer within \(seconds) s") }
        let conn = RedisConnection(loop: loop, host: node.host, port: node.port, connectTimeout: connectTimeout) { [weak ask] result in
            guard let ask, let conn = ask.conn else { return }
            if case .failure(let f) = result { return finish(nil, f.message) }
            let query = {
                conn.send(["SENTINEL", "get-master-addr-by-name", group.masterName]) { r in
                    if case .array(let a) = r, a.count == 2, let host = a[0].string, let p = a[1].string, let port = Int(p) {
                        return finish(RedisNode(host: host, port: port), "")
                    }
                    switch r {
                    case .null, .array: finish(nil, "does not know a master named '\(group.masterName)'")
                    case .error(let e): finish(nil, "answered \(e)")
                    default: finish(nil, "closed the connection")
                    }
                }
            }
            guard let pw = group.password else { return query() }
            conn.send(["AUTH", pw]) { r in
                if case .error(let e) = r { finish(nil, "refused AUTH (check REDIS_SENTINEL_PASSWORD): \(e)") } else { query() }
            }
        }
        ask.conn = conn
    }

    /// One sentinel being asked: its connection and its deadline.
    private final class SentinelAsk {
        var conn: RedisConnection?
        var deadline: RepeatingTimer?
        func end() {
            deadline?.stop(); deadline = nil
            conn?.onDisconnect = nil
            conn?.close(); conn = nil
        }
    }

    private func handshake(_ conn: RedisConnection, pubsub isPubSub: Bool, node: RedisNode, sentinelsNamed master: String?) {
        var steps: [[String]] = []
        if let pw = endpoint.password { steps.append(endpoint.username.map { ["AUTH", $0, pw] } ?? ["AUTH", pw]) }
        if !isPubSub && endpoint.database != 0 { steps.append(["SELECT", String(endpoint.database)]) }
        func next(_ i: Int) {
            guard i < steps.count else { return checkRole(conn, pubsub: isPubSub, node: node, sentinelsNamed: master) }
            conn.send(steps[i]) { [weak self] r in
                guard let self, !self.stopped else { return }
                switch r {
                case .error(let e):
                    let what = steps[i][0] == "AUTH" ? "AUTH failed (check the password in REDIS_URL)" : "SELECT \(self.endpoint.database) failed"
                    conn.onDisconnect = nil
                    conn.close()
                    self.failed(pubsub: isPubSub, "Redis \(what): \(e)")
                case .disconnected:
                    self.failed(pubsub: isPubSub, "Redis closed the connection during the handshake")
                default:
                    next(i + 1)
                }
            }
        }
        next(0)
    }

    /// The handshake's last step: a replica is let go (a sentinel can name the old master for a
    /// moment after a failover). A server that does not let us ask (an ACL) is taken as it is.
    private func checkRole(_ conn: RedisConnection, pubsub isPubSub: Bool, node: RedisNode, sentinelsNamed master: String?) {
        conn.send(["ROLE"]) { [weak self] r in
            guard let self, !self.stopped else { return }
            switch r {
            case .array(let role) where role.first?.string.map({ $0 != "master" }) ?? false:
                let name = role.first?.string ?? ""
                let kind = name == "slave" ? "replica" : name
                conn.onDisconnect = nil
                conn.close()
                self.failed(pubsub: isPubSub, master.map { "\(node), named by the sentinels as master '\($0)', is a \(kind), not a master (a failover in progress?)" }
                            ?? "\(node) is a \(kind), not a master: point REDIS_URL at the master, or use redis+sentinel://")
            case .disconnected:
                self.failed(pubsub: isPubSub, "Redis closed the connection during the handshake")
            default:
                self.up(conn, pubsub: isPubSub, node: node)
            }
        }
    }

    private func up(_ conn: RedisConnection, pubsub isPubSub: Bool, node: RedisNode) {
        if !isPubSub { server = node }
        conn.onDisconnect = { [weak self, weak conn] failure in
            guard let self, !self.stopped, conn != nil else { return }
            self.lost(pubsub: isPubSub, failure?.message ?? "Redis closed the connection")
        }
        if isPubSub {
            conn.onPush = { [weak self] reply in self?.pushed(reply) }
            pubsubReady = true
            pubsubAttempts = 0
        } else {
            commandReady = true
            commandAttempts = 0
            lastPing = loop.now
        }
        if isUp { problem = "" }
        if isPubSub { onPubSubUp?() } else { onCommandUp?() }
    }

    private func pushed(_ reply: RedisReply) {
        guard case .array(let parts) = reply, parts.count >= 3, case .bulk(let kind) = parts[0],
              case .bulk(let channel) = parts[1] else { return }
        if kind.elementsEqual("message".utf8) {
            if case .bulk(let payload) = parts[2] { onMessage?(channel, payload) }
        } else if kind.elementsEqual("subscribe".utf8) {
            onSubscribed?(channel)
        }
    }

    private func dropCommand(_ reason: String) {
        guard let c = command else { return }
        c.onDisconnect = nil
        c.abort() // now, without waiting for the answers that do not come
        lost(pubsub: false, reason)
    }

    private func lost(pubsub isPubSub: Bool, _ reason: String) {
        if isPubSub { pubsubReady = false; pubsub = nil } else {
            commandReady = false
            command = nil
            for s in slots[slotsHead...] where s.reply == nil { complete(s, .disconnected) }
        }
        failed(pubsub: isPubSub, reason)
    }

    /// Records why, tells the owner, and schedules the next attempt: 50 ms doubling up to 5 s,
    /// each delay drawn from its upper half (jitter, so instances do not reconnect in step).
    private func failed(pubsub isPubSub: Bool, _ reason: String) {
        problem = reason
        onDown?(isPubSub, reason)
        let attempt = isPubSub ? pubsubAttempts : commandAttempts
        if isPubSub { pubsubAttempts += 1 } else { commandAttempts += 1 }
        let base = min(5.0, 0.05 * Double(1 << min(attempt, 10)))
        var r: UInt32 = 0
        _ = withUnsafeMutableBytes(of: &r) { CShim_random_bytes($0.baseAddress, 4) }
        let delay = base * (0.5 + 0.5 * Double(r) / Double(UInt32.max))
        let timer = RepeatingTimer(loop: loop, interval: delay) { [weak self] in
            guard let self else { return }
            if isPubSub { self.pubsubRetry?.stop(); self.pubsubRetry = nil; self.connectPubSub() }
            else { self.commandRetry?.stop(); self.commandRetry = nil; self.connectCommand() }
        }
        if isPubSub { pubsubRetry?.stop(); pubsubRetry = timer } else { commandRetry?.stop(); commandRetry = timer }
    }
}

/// A Lua script sent by `EVALSHA` (`sha1` is its SHA-1 in hex).
public struct RedisScript: Sendable {
    public let source: String
    public let sha1: String
    /// `sha1` as bytes (an `EVALSHA` argument).
    public let sha1Bytes: [UInt8]

    public init(_ source: String) {
        self.source = source
        var digest = [UInt8](repeating: 0, count: 20)
        var s = source
        s.withUTF8 { CShim_sha1($0.baseAddress, $0.count, &digest) }
        let hex: [Character] = Array("0123456789abcdef")
        sha1 = String(digest.flatMap { [hex[Int($0 >> 4)], hex[Int($0 & 15)]] })
        sha1Bytes = Array(sha1.utf8)
    }
}
