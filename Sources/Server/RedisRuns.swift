import HTTP1
import Metrics
import Logging
import PubSub
import Reactor
import RedisBridge

/// The backend across instances (`REDIS_URL`): Redis owns every run's `seq`, epoch and
/// history; this instance mirrors the runs its sockets watch and fans their events out locally.
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
final class RedisRuns: RunBackend {
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
        var waitingMessages: [(epoch: String, event: Event)] = []
        /// Subscribers waiting for the first read.
        var waitingSubscribers: [(waiter: RunWaiter, since: Int64?, epoch: String?)] = []
        var idleSince = 0.0
        init(run: Run) { self.run = run }
    }

    static let lingerSeconds = 10.0
    let link: RedisLink
    let registry: RunRegistry
    private let loop: EventLoop
    private let logger: Logger
    private let events: EventCounters
    private(set) var mirrors: [String: Mirror] = [:]
    private let runTTL: Int
    /// When this instance last set each run's key TTL. The two `EXPIRE`s are a third of the
    /// publish script's commands (about 20% of Redis's time per publish), so a publish asks
    /// for them only when this instance has not set the run's TTL for `ttlRefreshInterval`:
    /// the keys then expire between `runTTL - ttlRefreshInterval` and `runTTL` after the
    /// last event.
    private var ttlSetAt: [String: Double] = [:]
    private let ttlRefreshInterval: Double
    /// Constant script arguments, encoded once.
    private let maxEventsArg: [UInt8], runTTLArg: [UInt8], finishedTTLArg: [UInt8]
    private static let zeroArg = Array("0".utf8), oneArg = Array("1".utf8)
    /// The publish's ISO time, written by the loop's cached clock.
    private var timestamp = Timestamp()
    private var timeScratch = ByteBuffer()
    /// The epoch a publish offers for a run Redis does not have; replaced once one is used.
    private var spareEpoch = Array(newEpoch().utf8)
    private var lastTTLPrune = 0.0
    /// Catch-up reads that found events the pub/sub link had missed, and epoch changes seen.
    let catchUpEvents: Counter
    let epochChanges: Counter

    init(config: Config, link: RedisLink, loop: EventLoop, logger: Logger, events: EventCounters, metrics: MetricsRegistry) {
        self.link = link
        self.loop = loop
        self.logger = logger
        self.events = events
        registry = RunRegistry(maxEventsPerRun: config.historyMaxEvents, maxTotalBytes: config.historyMaxBytes,
                               idleTimeout: config.runIdleTimeout, finishedGrace: config.runFinishedGrace,
                               makeEpoch: newEpoch)
        registry.mirrorsRemote = true
        registry.origin = { _ in ("", 0) } // the mirror's first read from Redis fills both in
        runTTL = Int(config.runIdleTimeout + config.runFinishedGrace)
        ttlRefreshInterval = min(60, Double(runTTL) / 10)
        maxEventsArg = Array(String(config.historyMaxEvents).utf8)
        runTTLArg = Array(String(runTTL).utf8)
        finishedTTLArg = Array(String(max(1, Int(config.runFinishedGrace))).utf8)
        catchUpEvents = metrics.counter("runwire_redis_catch_up_events_total",
                                        help: "Events read from Redis history to fill what pub/sub missed or to sync a run.")
        epochChanges = metrics.counter("runwire_redis_epoch_changes_total", help: "Runs whose epoch changed in Redis (its data was lost).")
    }

    var lane: AnswerPipeline.Lane { .ordered }

    var activeRunCount: Int { registry.activeRunCount }

    // MARK: Link events

    func commandUp() {
        for s in [RedisScripts.publish, RedisScripts.read] {
            link.send(["SCRIPT", "LOAD", s.source]) { _ in } // EVALSHA then rarely needs its EVAL fallback
        }
        for (_, m) in mirrors where m.state == .needsRead { read(m) }
    }

    func pubsubUp() {
        logger.info("redis pub/sub connection up", metadata: ["runs": "\(mirrors.count)"])
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

    func down(pubsub: Bool) {
        if pubsub { for (_, m) in mirrors { m.state = .subscribing; m.generation += 1; m.rereadAfter = false } }
    }

    func subscribed(_ channel: [UInt8]) {
        guard let id = RedisScripts.runId(ofChannel: channel), let m = mirrors[id], m.state == .subscribing else { return }
        read(m)
    }

    // MARK: Subscribing

    func subscribe(_ runId: String, now: Double, waiter: RunWaiter, since: Int64?, epoch: String?) -> Run? {
        let run = registry.run(runId, create: true, now: now)!
        run.lastActivity = now
        let m = mirror(run)
        if m.state == .live { return run }
        m.waitingSubscribers.append((waiter, since, epoch))
        return nil
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
                  args: [text(from), Array(run.epoch.utf8), Array(newEpoch().utf8), runTTLArg, Self.oneArg, maxEventsArg]) {
            [weak self, weak m] reply in
            guard let self, let m, self.mirrors[m.run.id] === m, m.generation == generation else { return }
            self.applyRead(m, reply)
        }
    }

    private func applyRead(_ m: Mirror, _ reply: RedisReply) {
        guard case .array(let parts) = reply, parts.count == 4, let epoch = parts[0].string,
              case .integer(let latest) = parts[1], case .array(let entries) = parts[2] else {
            if case .error(let e) = reply { logger.error("redis read failed", metadata: ["run": "\(m.run.id)", "error": "\(e)"]) }
            m.state = .needsRead // retried when the command connection is back, or by the sweep
            return
        }
        let run = m.run
        if epoch != run.epoch {
            let known = !run.epoch.isEmpty
            let first = entries.first.flatMap(Self.entrySeq) ?? latest + 1
            registry.newEpoch(run, epoch, lastSeq: first - 1)
            if known {
                epochChanges.add()
                logger.warning("run epoch changed in Redis (data lost)", metadata: ["run": "\(run.id)"])
            }
        }
        let now = loop.now
        for e in entries {
            guard let seq = Self.entrySeq(e), let message = Self.entryMessage(e) else { continue }
            if seq <= run.lastSeq { continue }
            if seq > run.lastSeq + 1 { registry.skip(run, to: seq - 1) }
            message.withUnsafeBytes { accept(Event.wrap(seq: seq, message: $0), into: run, now: now) }
            catchUpEvents.add()
        }
        if latest > run.lastSeq { registry.skip(run, to: latest) } // history expired or trimmed past what we held
        m.state = .live
        if m.rereadAfter { m.rereadAfter = false; read(m); return }
        // Subscribers that waited without `since` start where the run was when their
        // subscription took effect: before the first message that reached us meanwhile (it was
        // published after our SUBSCRIBE, so after they subscribed, and the read may already
        // hold it), else at the read's seq. Attached after the read's entries and before the
        // messages are drained, they get those events too, in order.
        let start = max(0, min(latest, m.waitingMessages.lazy.filter { $0.epoch == epoch }.map { $0.event.seq - 1 }.min() ?? latest))
        let waiting = m.waitingSubscribers
        m.waitingSubscribers.removeAll()
        for w in waiting {
            if w.since == nil { w.waiter.runReady(run, since: start, epoch: epoch) } else { w.waiter.runReady(run, since: w.since, epoch: w.epoch) }
        }
        drainWaiting(m) // a hole left there starts another read; subscribers get the rest in order
    }

    private func accept(_ e: Event, into run: Run, now: Double) {
        registry.accept(e, into: run, now: now, finishes: false)
        events.relayed.add()
    }

    // MARK: Live messages

    func message(_ channel: [UInt8], _ payload: [UInt8]) {
        guard let id = RedisScripts.runId(ofChannel: channel), let m = mirrors[id] else { return }
        // "<epoch> <seq> <message>"
        guard let sp1 = payload.firstIndex(of: 32), let sp2 = payload[(sp1 + 1)...].firstIndex(of: 32),
              let seq = Int64(String(decoding: payload[(sp1 + 1)..<sp2], as: UTF8.self)) else { return }
        if m.state == .live && seq <= m.run.lastSeq && m.run.epoch.utf8.elementsEqual(payload[..<sp1]) { return } // applied already
        let epoch = String(decoding: payload[..<sp1], as: UTF8.self)
        let event = payload.withUnsafeBytes { Event.wrap(seq: seq, message: UnsafeRawBufferPointer(rebasing: $0[(sp2 + 1)...])) }
        if m.state != .live {
            m.waitingMessages.append((epoch, event))
            return
        }
        apply(m, epoch: epoch, event)
    }

    /// Applies one message to a live mirror; false when it had to wait (and a read started).
    @discardableResult
    private func apply(_ m: Mirror, epoch: String, _ event: Event) -> Bool {
        let run = m.run
        if epoch != run.epoch || event.seq > run.lastSeq + 1 {
            // A new history, or the link missed something: read what is missing first.
            m.waitingMessages.append((epoch, event))
            read(m)
            return false
        }
        if event.seq == run.lastSeq + 1 { accept(event, into: run, now: loop.now) }
        return true
    }

    /// After a read: applies the messages that arrived meanwhile. Ones of another epoch came
    /// before the read established the current one, so they are stale.
    private func drainWaiting(_ m: Mirror) {
        guard !m.waitingMessages.isEmpty else { return }
        var pending = m.waitingMessages
        m.waitingMessages.removeAll()
        pending.sort { $0.event.seq < $1.event.seq }
        for (i, w) in pending.enumerated() {
            if w.event.seq <= m.run.lastSeq || w.epoch != m.run.epoch { continue }
            if !apply(m, epoch: w.epoch, w.event) {
                m.waitingMessages.append(contentsOf: pending[(i + 1)...])
                return
            }
        }
    }

    // MARK: Publishing and history

    func publish(_ b: PublishBatch, waiter: BackendWaiter, tag: UInt32) -> BackendAnswer? {
        guard link.commandReady else { return .failed(.unavailable(link.problem)) }
        var finishes = false
        let bodies = b.ranges.map { r -> [UInt8] in
            let object = UnsafeRawBufferPointer(rebasing: b.body[r])
            if EventBody.finishesRun(object) { finishes = true }
            return Array(object)
        }
        let runId = b.runId, now = b.now
        let refresh = finishes || now - (ttlSetAt[runId] ?? -1e9) >= ttlRefreshInterval
        timeScratch.clear()
        timestamp.appendISO(now, to: &timeScratch)
        let time = Array(timeScratch.readable)
        var args: [[UInt8]] = [Array(runId.utf8), time, maxEventsArg, runTTLArg, spareEpoch,
                               finishes ? finishedTTLArg : refresh ? runTTLArg : Self.zeroArg]
        args.append(contentsOf: bodies)
        let offered = spareEpoch
        link.eval(RedisScripts.publish, keys: [RedisScripts.meta(runId), RedisScripts.hist(runId), RedisScripts.channel(runId)],
                  args: args) { [weak self] reply in
            switch reply {
            case .array(let p) where p.count == 3:
                if case .bulk(let e) = p[0], e == offered { self?.spareEpoch = Array(newEpoch().utf8) } // it was taken
                if case .integer(let first) = p[1], case .integer(let last) = p[2] {
                    // After `run.finished` the next event sets the long TTL again.
                    if refresh { self?.ttlSetAt[runId] = finishes ? nil : now }
                    if case .bulk(let epoch) = p[0] { self?.deliverLocally(runId, epoch: epoch, first: first, bodies: bodies, time: time) }
                    self?.events.published.add(bodies.count)
                    waiter.backendAnswered(tag, .published(first: first, last: last))
                } else { waiter.backendAnswered(tag, .failed(.failed("unexpected reply from the publish script"))) }
            case .disconnected:
                waiter.backendAnswered(tag, .failed(.lost))
            case .error(let e):
                waiter.backendAnswered(tag, .failed(.failed(e)))
            default:
                waiter.backendAnswered(tag, .failed(.failed("unexpected reply from the publish script")))
            }
        }
        return nil
    }

    /// This instance's own subscribers of `runId` get the events it just published as soon as
    /// Redis answers the publish, instead of when the pub/sub message comes back: Redis writes
    /// the answer first, and on a shared core this process often runs before Redis writes the
    /// message (seen with `perf trace`; about 50 µs off p50 at one subscriber). Only the plain
    /// case is taken — a live mirror, nothing waiting, the same epoch, these seqs next — made
    /// exactly as the script makes them (`Event.make`, the format the script writes); anything
    /// else is left to the pub/sub messages. Those arrive as well and are dropped as applied.
    /// A mirror still being read keeps these events as it would their messages: subscribers
    /// waiting for the read then start before them (they subscribed before this publish).
    private func deliverLocally(_ runId: String, epoch: [UInt8], first: Int64, bodies: [[UInt8]], time: [UInt8]) {
        guard let m = mirrors[runId] else { return }
        let live = m.state == .live
        if live { guard m.waitingMessages.isEmpty, first == m.run.lastSeq + 1, m.run.epoch.utf8.elementsEqual(epoch) else { return } }
        let run = m.run, now = loop.now
        let epochText = live ? "" : String(decoding: epoch, as: UTF8.self)
        time.withUnsafeBytes { t in
            run.idBytes.withUnsafeBytes { id in
                for (i, body) in bodies.enumerated() {
                    let e = body.withUnsafeBytes { Event.make(runId: id, seq: first + Int64(i), time: t, data: $0) }
                    if live { registry.accept(e, into: run, now: now, finishes: false) } // counted as published
                    else { m.waitingMessages.append((epochText, e)) }
                }
            }
        }
    }

    func history(_ runId: String, since: Int64, limit: Int, now: Double, waiter: BackendWaiter, tag: UInt32) -> BackendAnswer? {
        guard link.commandReady else { return .failed(.unavailable(link.problem)) }
        link.eval(RedisScripts.read, keys: [RedisScripts.meta(runId), RedisScripts.hist(runId)],
                  args: [text(since + 1), Array("*".utf8), [], runTTLArg, Self.zeroArg, text(limit)]) { reply in
            switch reply {
            case .array(let p) where p.isEmpty:
                waiter.backendAnswered(tag, .history(nil))
            case .array(let p) where p.count == 4:
                guard let epoch = p[0].string, case .integer(let seq) = p[1], case .array(let entries) = p[2],
                      case .integer(let firstSeq) = p[3] else {
                    return waiter.backendAnswered(tag, .failed(.failed("unexpected reply from the read script")))
                }
                let events = entries.compactMap { e -> Event? in
                    guard let s = Self.entrySeq(e), let m = Self.entryMessage(e) else { return nil }
                    return m.withUnsafeBytes { Event.wrap(seq: s, message: $0) }
                }
                waiter.backendAnswered(tag, .history(HistoryPage(epoch: epoch, seq: seq, firstSeq: firstSeq, events: events)))
            case .disconnected: waiter.backendAnswered(tag, .failed(.lost))
            case .error(let e): waiter.backendAnswered(tag, .failed(.failed(e)))
            default: waiter.backendAnswered(tag, .failed(.failed("unexpected reply from the read script")))
            }
        }
        return nil
    }

    var hasWorkBeforeFanOut: Bool { true }

    func beforeFanOut() {
        link.flush() // commands of this iteration go out before the fan-out's writes
    }

    // MARK: Sweep

    /// Once per sweep: retries, and forgetting unwatched mirrors.
    func sweep(now: Double) {
        if now - lastTTLPrune >= ttlRefreshInterval {
            lastTTLPrune = now
            ttlSetAt = ttlSetAt.filter { now - $0.value < ttlRefreshInterval }
        }
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
            for id in gone { mirrors[id] = nil; registry.forget(id) }
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
