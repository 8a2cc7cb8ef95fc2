import PubSub
import RedisBridge
import Reactor

/// The hub across instances: Redis owns every run's `seq`, epoch and history; this instance
/// mirrors the runs its sockets watch and fans their events out locally.
///
/// - Publishing runs `RedisScripts.publish` (seq, capped history, PUBLISH in one script).
/// - A run gets a local mirror when its first local subscriber arrives: SUBSCRIBE to its
///   channel, and once Redis confirms, one read of its retained history (`RedisScripts.read`).
///   Messages arriving meanwhile wait; afterwards each message is applied only when its seq
///   is the next one, so a subscriber sees every event once, in order.
/// - A seq that skips ahead, a new epoch, or a pub/sub reconnect sends the run back to a read
///   from the last seq it holds: what the link missed comes from history, nothing twice.
///   When Redis lost the data (a new epoch), subscribers get a `gap` from 1 and reload.
/// - A mirror nobody has watched for `lingerSeconds` is unsubscribed and forgotten.
final class RedisHub {
    /// Where a mirrored run stands with Redis.
    enum State { case subscribing, needsRead, reading, live }

    /// One mirrored run and its pending work.
    final class Mirror {
        let run: Run
        var state = State.subscribing
        /// Bumped by every read sent and by every pub/sub loss: only the latest read applies.
        var generation = 0
        /// Another read is wanted once the one in flight answers.
        var rereadAfter = false
        /// Messages not applied yet (while not live, or ahead of the next seq).
        var waitingMessages: [(epoch: String, frame: EventFrame)] = []
        /// Subscribe requests waiting for the first read.
        var waitingSubscribers: [(ws: WebSocketConnection, since: Int64?, epoch: String?)] = []
        var idleSince = 0.0
        init(run: Run) { self.run = run }
    }

    static let lingerSeconds = 10.0
    let link: RedisLink
    unowned let ctx: LoopContext
    /// Whether run events go through Redis (`USE_REDIS_WEBSOCKET`); false keeps fan-out local
    /// and uses Redis for cluster stats only.
    let fansOut: Bool
    private(set) var mirrors: [String: Mirror] = [:]
    private let runTTL: Int
    /// When this instance last set each run's key TTL. The two `EXPIRE`s are a third of the
    /// publish script's commands (about 20% of Redis's time per publish), so a publish asks
    /// for them only when this instance has not set the run's TTL for `ttlRefreshInterval`:
    /// the keys then expire between `runTTL - ttlRefreshInterval` and `runTTL` after the
    /// last event.
    private var ttlSetAt: [String: Double] = [:]
    private let ttlRefreshInterval: Double
    private let heartbeatInterval: Double
    /// Constant script arguments, encoded once.
    private let maxEventsArg: [UInt8], runTTLArg: [UInt8], finishedTTLArg: [UInt8]
    private static let zeroArg = Array("0".utf8), oneArg = Array("1".utf8)
    /// The publish's ISO time, written by the loop's cached clock.
    private var timeScratch = ByteBuffer()
    /// The epoch a publish offers for a run Redis does not have; replaced once one is used.
    private var spareEpoch = Array(Hub.newEpoch().utf8)
    private var lastHeartbeat = -1e9
    /// Cluster totals from the last heartbeat (`/api/ws/stats`).
    private(set) var clusterConnections = 0
    private(set) var clusterActiveRuns = 0
    private var ownConnectionsAtHeartbeat = 0
    /// Catch-up reads that found events the pub/sub link had missed, and epoch changes seen.
    private(set) var catchUpEvents = 0
    private(set) var epochChanges = 0

    init(ctx: LoopContext, config: Config, endpoint: RedisEndpoint) {
        self.ctx = ctx
        fansOut = config.useRedisWebSocket
        runTTL = Int(config.runIdleTimeout + config.runFinishedGrace)
        ttlRefreshInterval = min(60, Double(runTTL) / 10)
        heartbeatInterval = config.clusterHeartbeat
        maxEventsArg = Array(String(config.historyMaxEvents).utf8)
        runTTLArg = Array(String(runTTL).utf8)
        finishedTTLArg = Array(String(max(1, Int(config.runFinishedGrace))).utf8)
        link = RedisLink(loop: ctx.loop, endpoint: endpoint, pubsub: config.useRedisWebSocket,
                         connectTimeout: 2, commandTimeout: config.redisCommandTimeout)
        link.onCommandUp = { [unowned self] in self.commandUp() }
        link.onPubSubUp = { [unowned self] in self.pubsubUp() }
        link.onDown = { [unowned self] pubsub, reason in self.down(pubsub: pubsub, reason) }
        link.onMessage = { [unowned self] channel, payload in self.message(channel, payload) }
        link.onSubscribed = { [unowned self] channel in self.subscribed(channel) }
        link.start()
    }

    // MARK: Link events

    private func commandUp() {
        ctx.server.logger.info("redis command connection up", metadata: ["redis": "\(link.endpoint.host):\(link.endpoint.port)"])
        for s in [RedisScripts.publish, RedisScripts.read, RedisScripts.heartbeat, RedisScripts.leave] {
            link.send(["SCRIPT", "LOAD", s.source]) { _ in } // EVALSHA then rarely needs its EVAL fallback
        }
        for (_, m) in mirrors where m.state == .needsRead { read(m) }
        heartbeat()
    }

    private func pubsubUp() {
        ctx.server.logger.info("redis pub/sub connection up", metadata: ["runs": "\(mirrors.count)"])
        // Resubscribe in batches; each confirmation starts that run's catch-up read.
        var batch: [[UInt8]] = []
        for (id, m) in mirrors {
            m.state = .subscribing
            m.generation += 1
            batch.append(RedisScripts.channel(id))
            if batch.count == 500 { link.subscribe(batch); batch.removeAll() }
        }
        link.subscribe(batch)
    }

    private func down(pubsub: Bool, _ reason: String) {
        ctx.server.logger.warning("redis unavailable", metadata: ["connection": "\(pubsub ? "pub/sub" : "commands")", "reason": "\(reason)"])
        if pubsub { for (_, m) in mirrors { m.state = .subscribing; m.generation += 1; m.rereadAfter = false } }
    }

    private func subscribed(_ channel: [UInt8]) {
        guard let id = RedisScripts.runId(ofChannel: channel), let m = mirrors[id], m.state == .subscribing else { return }
        read(m)
    }

    // MARK: Subscribing

    /// Subscribes `ws` to `run` once the run's mirror is live (at once when it is).
    /// Returns false when the subscription must wait for Redis.
    func subscribeWhenLive(_ ws: WebSocketConnection, run: Run, since: Int64?, epoch: String?) -> Bool {
        let m = mirror(run)
        if m.state == .live { return true }
        m.waitingSubscribers.append((ws, since, epoch))
        return false
    }

    private func mirror(_ run: Run) -> Mirror {
        if let m = mirrors[run.id] { return m }
        let m = Mirror(run: run)
        mirrors[run.id] = m
        link.subscribe([RedisScripts.channel(run.id)]) // confirmation → read
        return m
    }

    // MARK: Reading (first sync and catch-up)

    private func read(_ m: Mirror) {
        if m.state == .reading { m.rereadAfter = true; return }
        guard link.commandReady else { m.state = .needsRead; return }
        m.state = .reading
        m.generation += 1
        let generation = m.generation
        let run = m.run
        let from = run.epoch.isEmpty ? 0 : run.lastSeq + 1
        link.eval(RedisScripts.read, keys: [RedisScripts.meta(run.id), RedisScripts.hist(run.id)],
                  args: [text(from), Array(run.epoch.utf8), Array(Hub.newEpoch().utf8), runTTLArg, Self.oneArg, maxEventsArg]) {
            [weak self, weak m] reply in
            guard let self, let m, self.mirrors[m.run.id] === m, m.generation == generation else { return }
            self.applyRead(m, reply)
        }
    }

    private func applyRead(_ m: Mirror, _ reply: RedisReply) {
        guard case .array(let parts) = reply, parts.count == 4, let epoch = parts[0].string,
              case .integer(let latest) = parts[1], case .array(let entries) = parts[2] else {
            if case .error(let e) = reply { ctx.server.logger.error("redis read failed", metadata: ["run": "\(m.run.id)", "error": "\(e)"]) }
            m.state = .needsRead // retried when the command connection is back, or by the sweep
            return
        }
        let run = m.run
        let hub = ctx.hub
        if epoch != run.epoch {
            let known = !run.epoch.isEmpty
            let first = entries.first.flatMap(Self.entrySeq) ?? latest + 1
            hub.newEpoch(run, epoch, lastSeq: first - 1)
            if known {
                epochChanges += 1
                ctx.server.logger.warning("run epoch changed in Redis (data lost)", metadata: ["run": "\(run.id)"])
            }
        }
        let now = ctx.loop.now
        for e in entries {
            guard let seq = Self.entrySeq(e), let message = Self.entryMessage(e) else { continue }
            if seq <= run.lastSeq { continue }
            if seq > run.lastSeq + 1 { hub.skip(run, to: seq - 1) }
            message.withUnsafeBytes { hub.accept(EventFrame.wrap(seq: seq, message: $0), into: run, now: now) }
            catchUpEvents += 1
        }
        if latest > run.lastSeq { hub.skip(run, to: latest) } // history expired or trimmed past what we held
        m.state = .live
        if m.rereadAfter { m.rereadAfter = false; read(m); return }
        drainWaiting(m)
        guard m.state == .live else { return } // a hole remains: another read is on its way
        let waiting = m.waitingSubscribers
        m.waitingSubscribers.removeAll()
        for w in waiting {
            w.ws.waitingSubscriptions -= 1
            if !w.ws.isClosed && !w.ws.closeSent { w.ws.subscribeLive(run, since: w.since, epoch: w.epoch) }
        }
    }

    // MARK: Live messages

    private func message(_ channel: [UInt8], _ payload: [UInt8]) {
        guard let id = RedisScripts.runId(ofChannel: channel), let m = mirrors[id] else { return }
        // "<epoch> <seq> <message>"
        guard let sp1 = payload.firstIndex(of: 32), let sp2 = payload[(sp1 + 1)...].firstIndex(of: 32),
              let seq = Int64(String(decoding: payload[(sp1 + 1)..<sp2], as: UTF8.self)) else { return }
        if m.state == .live && seq <= m.run.lastSeq && m.run.epoch.utf8.elementsEqual(payload[..<sp1]) { return } // applied already
        let epoch = String(decoding: payload[..<sp1], as: UTF8.self)
        let frame = payload.withUnsafeBytes { EventFrame.wrap(seq: seq, message: UnsafeRawBufferPointer(rebasing: $0[(sp2 + 1)...])) }
        if m.state != .live {
            m.waitingMessages.append((epoch, frame))
            return
        }
        apply(m, epoch: epoch, frame)
    }

    /// Applies one message to a live mirror; false when it had to wait (and a read started).
    @discardableResult
    private func apply(_ m: Mirror, epoch: String, _ frame: EventFrame) -> Bool {
        let run = m.run
        if epoch != run.epoch || frame.seq > run.lastSeq + 1 {
            // A new history, or the link missed something: read what is missing first.
            m.waitingMessages.append((epoch, frame))
            read(m)
            return false
        }
        if frame.seq == run.lastSeq + 1 { ctx.hub.accept(frame, into: run, now: ctx.loop.now) }
        return true
    }

    /// After a read: applies the messages that arrived meanwhile. Ones of another epoch came
    /// before the read established the current one, so they are stale.
    private func drainWaiting(_ m: Mirror) {
        guard !m.waitingMessages.isEmpty else { return }
        var pending = m.waitingMessages
        m.waitingMessages.removeAll()
        pending.sort { $0.frame.seq < $1.frame.seq }
        for (i, w) in pending.enumerated() {
            if w.frame.seq <= m.run.lastSeq || w.epoch != m.run.epoch { continue }
            if !apply(m, epoch: w.epoch, w.frame) {
                m.waitingMessages.append(contentsOf: pending[(i + 1)...])
                return
            }
        }
    }

    // MARK: Publishing and history

    /// Publishes `bodies` (validated JSON objects, in order) to `runId`; `done` gets the
    /// first and last seq, or why not.
    func publish(_ runId: String, _ bodies: [[UInt8]], finishes: Bool,
                 done: @escaping (Result<(first: Int64, last: Int64), Failure>) -> Void) {
        guard link.commandReady else { done(.failure(.unavailable(link.problem))); return }
        let now = ctx.loop.now
        let refresh = finishes || now - (ttlSetAt[runId] ?? -1e9) >= ttlRefreshInterval
        timeScratch.clear()
        ctx.writer.timestamp.appendISO(now, to: &timeScratch)
        let time = Array(timeScratch.readable)
        var args: [[UInt8]] = [Array(runId.utf8), time, maxEventsArg, runTTLArg, spareEpoch,
                               finishes ? finishedTTLArg : refresh ? runTTLArg : Self.zeroArg]
        args.append(contentsOf: bodies)
        let offered = spareEpoch
        link.eval(RedisScripts.publish, keys: [RedisScripts.meta(runId), RedisScripts.hist(runId), RedisScripts.channel(runId)],
                  args: args) { [weak self] reply in
            switch reply {
            case .array(let p) where p.count == 3:
                if case .bulk(let e) = p[0], e == offered { self?.spareEpoch = Array(Hub.newEpoch().utf8) } // it was taken
                if case .integer(let first) = p[1], case .integer(let last) = p[2] {
                    // After `run.finished` the next event sets the long TTL again.
                    if refresh { self?.ttlSetAt[runId] = finishes ? nil : now }
                    if case .bulk(let epoch) = p[0] { self?.deliverLocally(runId, epoch: epoch, first: first, bodies: bodies, time: time) }
                    self?.ctx.hub.published += bodies.count
                    done(.success((first, last)))
                } else { done(.failure(.failed("unexpected reply from the publish script"))) }
            case .disconnected:
                done(.failure(.lost))
            case .error(let e):
                done(.failure(.failed(e)))
            default:
                done(.failure(.failed("unexpected reply from the publish script")))
            }
        }
    }

    /// This instance's own subscribers of `runId` get the events it just published as soon as
    /// Redis answers the publish, instead of when the pub/sub message comes back: Redis writes
    /// the answer first, and on a shared core this process often runs before Redis writes the
    /// message (seen with `perf trace`; about 50 µs off p50 at one subscriber). Only the plain case is taken — a
    /// live mirror, nothing waiting, the same epoch, these seqs next — framed exactly as the
    /// script frames them (`EventFrame.encode`, the format the script writes); anything else is
    /// left to the pub/sub messages. Those arrive as well and are dropped as already applied.
    private func deliverLocally(_ runId: String, epoch: [UInt8], first: Int64, bodies: [[UInt8]], time: [UInt8]) {
        guard fansOut, let m = mirrors[runId], m.state == .live, m.waitingMessages.isEmpty,
              first == m.run.lastSeq + 1, m.run.epoch.utf8.elementsEqual(epoch) else { return }
        let run = m.run, hub = ctx.hub, now = ctx.loop.now
        time.withUnsafeBytes { t in
            run.idBytes.withUnsafeBytes { id in
                for (i, body) in bodies.enumerated() {
                    let frame = body.withUnsafeBytes { EventFrame.encode(runId: id, seq: first + Int64(i), time: t, data: $0) }
                    hub.accept(frame, into: run, now: now, relayed: false) // counted as published
                }
            }
        }
    }

    /// Why a publish or history read through Redis did not happen (or may not have).
    enum Failure: Error {
        /// Redis is not reachable now: nothing was sent.
        case unavailable(String)
        /// The connection went away with the command in flight: it may or may not have run.
        case lost
        /// Redis answered with an error.
        case failed(String)
    }

    /// The retained events of `runId` after `since` (at most `limit`), read from Redis.
    func history(_ runId: String, since: Int64, limit: Int,
                 done: @escaping (Result<(epoch: String, seq: Int64, firstSeq: Int64, events: [[UInt8]])?, Failure>) -> Void) {
        guard link.commandReady else { done(.failure(.unavailable(link.problem))); return }
        link.eval(RedisScripts.read, keys: [RedisScripts.meta(runId), RedisScripts.hist(runId)],
                  args: [text(since + 1), Array("*".utf8), [], runTTLArg, Self.zeroArg, text(limit)]) { reply in
            switch reply {
            case .array(let p) where p.isEmpty:
                done(.success(nil))
            case .array(let p) where p.count == 4:
                guard let epoch = p[0].string, case .integer(let seq) = p[1], case .array(let entries) = p[2],
                      case .integer(let firstSeq) = p[3] else {
                    return done(.failure(.failed("unexpected reply from the read script")))
                }
                done(.success((epoch, seq, firstSeq, entries.compactMap(Self.entryMessage))))
            case .disconnected: done(.failure(.lost))
            case .error(let e): done(.failure(.failed(e)))
            default: done(.failure(.failed("unexpected reply from the read script")))
            }
        }
    }

    // MARK: Sweep, heartbeat, stats

    /// Once per sweep: link health, heartbeat, retries, and forgetting unwatched mirrors.
    func sweep(now: Double) {
        link.check(now: now)
        if now - lastHeartbeat >= heartbeatInterval { heartbeat() }
        var gone: [String] = []
        for (id, m) in mirrors {
            if m.state == .needsRead && link.commandReady { read(m) }
            if m.run.subscriptions.isEmpty && m.waitingSubscribers.isEmpty && m.state == .live {
                if m.idleSince == 0 { m.idleSince = now } else if now - m.idleSince >= Self.lingerSeconds { gone.append(id) }
            } else {
                m.idleSince = 0
            }
        }
        if !gone.isEmpty {
            link.unsubscribe(gone.map(RedisScripts.channel))
            for id in gone { mirrors[id] = nil; ctx.hub.registry.forget(id) }
        }
    }

    private func heartbeat() {
        lastHeartbeat = ctx.loop.now
        ttlSetAt = ttlSetAt.filter { lastHeartbeat - $0.value < ttlRefreshInterval }
        guard link.commandReady else { return }
        let own = ctx.webSockets
        var args: [[UInt8]] = [Array(ctx.server.serverId.utf8), text(own), text(Int(heartbeatInterval * 3000))]
        for (id, r) in ctx.hub.registry.runs where !r.subscriptions.isEmpty { args.append(Array(id.utf8)) }
        link.eval(RedisScripts.heartbeat, keys: [Array("rw:instances".utf8)], args: args) { [weak self] reply in
            guard let self, case .array(let p) = reply, p.count == 2, case .integer(let total) = p[0],
                  case .integer(let active) = p[1] else { return }
            self.clusterConnections = Int(total)
            self.clusterActiveRuns = Int(active)
            self.ownConnectionsAtHeartbeat = own
        }
    }

    /// WebSocket connections of all live instances (this one counted as of now).
    var redisConnections: Int { max(0, clusterConnections - ownConnectionsAtHeartbeat + ctx.webSockets) }

    /// Removes this instance from the cluster registry (graceful stop), then closes the link.
    func leave(then finished: @escaping () -> Void) {
        guard link.commandReady else { link.stop(); finished(); return }
        link.eval(RedisScripts.leave, keys: [Array("rw:instances".utf8)], args: [Array(ctx.server.serverId.utf8)]) { [weak self] _ in
            self?.link.stop()
            finished()
        }
    }

    // MARK: Helpers

    private func text(_ n: some BinaryInteger) -> [UInt8] { Array(String(n).utf8) }

    /// The seq of a stream entry `{ "<seq>-0", {"m", message} }`.
    static func entrySeq(_ e: RedisReply) -> Int64? {
        guard case .array(let p) = e, p.count == 2, case .bulk(let id) = p[0], let dash = id.firstIndex(of: UInt8(ascii: "-")) else { return nil }
        return Int64(String(decoding: id[..<dash], as: UTF8.self))
    }

    static func entryMessage(_ e: RedisReply) -> [UInt8]? {
        guard case .array(let p) = e, p.count == 2, case .array(let fields) = p[1], fields.count == 2, case .bulk(let m) = fields[1] else { return nil }
        return m
    }
}
