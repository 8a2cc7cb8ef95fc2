import CShimSys
import Reactor
#if canImport(Glibc)
import Glibc
#endif

/// `cluster`: the delivery guarantee across Runwire instances. Subscribers are spread
/// round-robin over several instance URLs (every run gets subscribers on every instance); the
/// events of each run are published round-robin over one or more instance URLs. Each event
/// carries its send time (`"t"`, µs) and the publisher's per-run counter (`"i"`); the `201`
/// answer tells which `seq` the event got.
///
/// Every subscriber must see every acknowledged `seq` of its run exactly once and in increasing
/// order, with the same event under a `seq` everywhere. Counted: duplicates, out-of-order
/// (a `seq` below one already seen), missing (acknowledged, never seen), gaps (`gap`
/// messages), mismatched (an event under a `seq` that differs between subscribers or from the
/// publisher's acknowledgement), unexpected (a `seq` nobody acknowledged) and seq conflicts
/// (two publishes acknowledged with one `seq`). A run whose publishes are not all answered when
/// the drain ends is incomplete (`unanswered`); the seqs seen for them count as unconfirmed,
/// not unexpected.
final class ClusterScenario: ClientDelegate {
    struct Options {
        var subscribeURLs: [WSURL]
        var publishURLs: [WSURL]
        var conns: Int
        var runs: Int
        var rate: Double
        var duration: Double
        var size: Int
        /// Publisher connections per publish URL (a run always uses the same one per URL).
        var publishers: Int
        var window: Int
        var sources: [String]
        var runPrefix: String
        /// Seconds to wait after the last publish for acknowledgements and deliveries.
        var drain: Double
    }

    enum Phase { case connecting, publishing, draining, done }

    /// Seqs above this are not tracked (bounded memory; counted as unexpected).
    static let maxTrackedSeq = 1 << 22

    let loop = EventLoop(sweepInterval: 0.05)
    let o: Options
    var phase = Phase.connecting
    var started = 0, opened = 0, subscribed = 0, failed = 0, closedEarly = 0
    var subscribersPerRun: [Int]
    /// Per subscriber: the seqs seen (a bitset) and the highest seen.
    var seen: [[UInt64]]
    var highest: [Int]
    var runOf: [Int]
    var isSubscribed: [Bool]
    /// Per run: the publisher's counter under each seq, from the subscribers (first seen) and
    /// from the acknowledgements; -1 = not known.
    var counterSeen: [[Int]]
    var counterAcked: [[Int]]
    var acked: [Int]
    var publishedPerRun: [Int]
    /// Per publisher connection: the (run, counter) of each request in flight, in order.
    var inFlight: [[(run: Int, i: Int)]] = []
    var pubs: [[PublisherSocket]] = []
    var sent = 0, publishErrors = 0
    /// Publishes acknowledged with a seq another publish of the run already got (instances
    /// that do not share one seq order).
    var seqConflicts = 0
    var delivered = 0, fresh = 0, duplicates = 0, outOfOrder = 0, gaps = 0, mismatched = 0, unexpected = 0
    var histogram = Histogram()
    var publishStart = 0.0, publishEnd = 0.0, drainEnd = 0.0, giveUp = 0.0
    var timer: RepeatingTimer?
    let pad: String

    init(_ o: Options) {
        self.o = o
        subscribersPerRun = Array(repeating: 0, count: o.runs)
        seen = Array(repeating: [], count: o.conns)
        highest = Array(repeating: 0, count: o.conns)
        runOf = Array(repeating: 0, count: o.conns)
        isSubscribed = Array(repeating: false, count: o.conns)
        counterSeen = Array(repeating: [], count: o.runs)
        counterAcked = Array(repeating: [], count: o.runs)
        acked = Array(repeating: 0, count: o.runs)
        publishedPerRun = Array(repeating: 0, count: o.runs)
        pad = String(repeating: "x", count: max(0, o.size - 40))
    }

    func run() -> [String: String] {
        giveUp = wallNow() + 120
        loop.onSweep = { [unowned self] _ in self.tick() }
        loop.run()
        return report()
    }

    private func tick() {
        let now = wallNow()
        switch phase {
        case .connecting:
            var batch = 250
            while batch > 0 && started < o.conns && started - opened - failed < 2000 { openOne(); batch -= 1 }
            // Publishing starts once every subscriber holds its `subscribed` answer.
            if subscribed + failed >= o.conns || now > giveUp { startPublishing(now) }
        case .draining:
            let inflight = pubs.joined().reduce(0) { $0 + $1.outstanding }
            if (inflight == 0 && fresh >= expected) || now >= drainEnd { finish() }
        default: break
        }
    }

    /// Subscriber k: instance k mod U, run (k / U) mod R, so every run has subscribers on
    /// every instance.
    private func openOne() {
        let k = started
        started += 1
        let u = o.subscribeURLs[k % o.subscribeURLs.count]
        let run = (k / o.subscribeURLs.count) % o.runs
        let source = o.sources.isEmpty ? nil : o.sources[k % o.sources.count]
        let fd = CShim_tcp_connect(u.host, Int32(u.port), source)
        guard fd >= 0 else { failed += 1; return }
        let c = ClientSocket(fd: fd, loop: loop, delegate: self, host: "\(u.host):\(u.port)",
                             path: u.path.replacingOccurrences(of: "{run}", with: "\(o.runPrefix)\(run)"))
        c.runIndex = run
        c.id = k
        runOf[k] = run
        c.begin()
    }

    private func startPublishing(_ now: Double) {
        for (u, url) in o.publishURLs.enumerated() {
            pubs.append([])
            for _ in 0..<o.publishers {
                let fd = CShim_tcp_connect(url.host, Int32(url.port), nil)
                guard fd >= 0 else { continue }
                let p = PublisherSocket(fd: fd, loop: loop, host: "\(url.host):\(url.port)", window: o.window)
                let slot = inFlight.count
                inFlight.append([])
                p.onResponse = { [unowned self] ok, body in self.answered(slot: slot, ok: ok, body: body) }
                p.start()
                pubs[u].append(p)
            }
        }
        phase = .publishing
        publishStart = now
        publishEnd = now + o.duration
        timer = RepeatingTimer(loop: loop, interval: 0.001) { [unowned self] in self.publishTick() }
    }

    /// Event k of a run goes to publish URL k mod U: one run's events alternate over instances.
    private func publishTick() {
        let now = wallNow()
        if now >= publishEnd {
            timer?.stop()
            phase = .draining
            drainEnd = now + o.drain
            return
        }
        let due = Int(o.rate * (now - publishStart)) + 1
        while sent < due {
            let r = sent % o.runs
            let i = publishedPerRun[r]
            let conns = pubs[i % pubs.count]
            guard !conns.isEmpty else { break }
            let p = conns[r % conns.count]
            guard p.canSend else { break } // the window is full: the server is behind
            publishedPerRun[r] += 1
            inFlight[slot(of: p)].append((r, i))
            p.post(path: o.publishURLs[i % pubs.count].path.replacingOccurrences(of: "{run}", with: "\(o.runPrefix)\(r)"),
                   body: "{\"t\":\(FanoutScenario.micros()),\"i\":\(i),\"pad\":\"\(pad)\"}")
            sent += 1
        }
    }

    private func slot(of p: PublisherSocket) -> Int {
        var n = 0
        for group in pubs {
            if let k = group.firstIndex(where: { $0 === p }) { return n + k }
            n += group.count
        }
        return 0
    }

    /// A `201 {"runId":…,"first":S,"last":S}`: event (run, i) got seq S.
    func answered(slot: Int, ok: Bool, body: UnsafeRawBufferPointer) {
        guard !inFlight[slot].isEmpty else { return }
        let (r, i) = inFlight[slot].removeFirst()
        guard ok, let first = FanoutScenario.number(after: "\"first\":", in: body), first >= 1, first <= Self.maxTrackedSeq else {
            publishErrors += 1
            return
        }
        let seq = Int(first)
        if seq < counterAcked[r].count && counterAcked[r][seq] >= 0 { seqConflicts += 1; return }
        acked[r] += 1
        Self.put(i, at: seq, in: &counterAcked[r])
    }

    private static func put(_ value: Int, at index: Int, in table: inout [Int]) {
        if table.count <= index { table += Array(repeating: -1, count: index + 1 - table.count) }
        table[index] = value
    }

    var expected: Int { zip(acked, subscribersPerRun).reduce(0) { $0 + $1.0 * $1.1 } }

    private func finish() {
        phase = .done
        loop.forEachSocket { $0.close() }
        loop.stop()
    }

    func opened(_ c: ClientSocket) { opened += 1 }

    func message(_ c: ClientSocket, _ payload: UnsafeRawBufferPointer) {
        if Self.starts(payload, with: "{\"type\":\"event\"") {
            event(c, payload)
        } else if Self.starts(payload, with: "{\"type\":\"subscribed\"") {
            guard !isSubscribed[c.id] else { return }
            isSubscribed[c.id] = true
            subscribed += 1
            subscribersPerRun[c.runIndex] += 1
        } else if Self.starts(payload, with: "{\"type\":\"gap\"") {
            gaps += 1
        }
    }

    private func event(_ c: ClientSocket, _ payload: UnsafeRawBufferPointer) {
        delivered += 1
        guard let s = FanoutScenario.number(after: "\"seq\":", in: payload), s >= 1, s <= Self.maxTrackedSeq else {
            unexpected += 1
            return
        }
        let seq = Int(s)
        if let t = FanoutScenario.number(after: "\"t\":", in: payload) {
            histogram.record(UInt64(max(0, FanoutScenario.micros() - t)))
        }
        let word = seq >> 6, bit = UInt64(1) << UInt64(seq & 63)
        if seen[c.id].count <= word { seen[c.id] += Array(repeating: 0, count: word + 1 - seen[c.id].count) }
        if seen[c.id][word] & bit != 0 { duplicates += 1; return }
        seen[c.id][word] |= bit
        fresh += 1
        if seq < highest[c.id] { outOfOrder += 1 } else { highest[c.id] = seq }
        let i = FanoutScenario.number(after: "\"i\":", in: payload).map(Int.init) ?? -1
        let r = c.runIndex
        if counterSeen[r].count > seq, counterSeen[r][seq] >= 0 {
            if counterSeen[r][seq] != i { mismatched += 1 }
        } else {
            Self.put(i, at: seq, in: &counterSeen[r])
        }
    }

    func closed(_ c: ClientSocket, handshakeDone: Bool) {
        if !handshakeDone || !isSubscribed[c.id] { failed += 1 } else if phase != .done { closedEarly += 1 }
    }

    static func starts(_ bytes: UnsafeRawBufferPointer, with prefix: StaticString) -> Bool {
        let n = prefix.utf8CodeUnitCount
        guard bytes.count >= n else { return false }
        return memcmp(bytes.baseAddress!, prefix.utf8Start, n) == 0
    }

    /// The counts; the ones that need every subscriber's seqs (missing, unexpected, mismatched
    /// against the acknowledgements) are computed here, once the run is over.
    func report() -> [String: String] {
        var missing = 0, unexpected = self.unexpected, unconfirmed = 0, mismatched = self.mismatched
        let unanswered = max(0, sent - acked.reduce(0, +) - publishErrors - seqConflicts)
        for k in 0..<o.conns where isSubscribed[k] {
            let r = runOf[k], bits = seen[k]
            func has(_ seq: Int) -> Bool { seq >> 6 < bits.count && bits[seq >> 6] & (UInt64(1) << UInt64(seq & 63)) != 0 }
            for (seq, i) in counterAcked[r].enumerated() where i >= 0 && !has(seq) { missing += 1 }
            for (w, word) in bits.enumerated() where word != 0 {
                for b in 0..<64 where word & (UInt64(1) << UInt64(b)) != 0 {
                    let seq = w << 6 | b
                    guard seq >= counterAcked[r].count || counterAcked[r][seq] < 0 else { continue }
                    if unanswered > 0 { unconfirmed += 1 } else { unexpected += 1 }
                }
            }
        }
        for r in 0..<o.runs {
            for (seq, i) in counterAcked[r].enumerated() where i >= 0 && seq < counterSeen[r].count {
                if counterSeen[r][seq] >= 0 && counterSeen[r][seq] != i { mismatched += 1 }
            }
        }
        let secs = max(publishEnd - publishStart, 0.001)
        let ok = missing == 0 && duplicates == 0 && outOfOrder == 0 && gaps == 0 && mismatched == 0 && unexpected == 0
            && seqConflicts == 0 && publishErrors == 0 && unanswered == 0 && failed == 0 && closedEarly == 0 && subscribed == o.conns
        return [
            "subscribers": "\(subscribed)", "subscribeFailed": "\(failed)", "closedEarly": "\(closedEarly)",
            "instances": "\(o.subscribeURLs.count)", "publishInstances": "\(o.publishURLs.count)", "runs": "\(o.runs)",
            "targetRate": "\(Int(o.rate))", "published": "\(sent)", "acknowledged": "\(acked.reduce(0, +))",
            "publishErrors": "\(publishErrors)", "publishRate": "\(Int(Double(sent) / secs))",
            "keptRate": "\(Double(sent) >= 0.95 * o.rate * (publishEnd - publishStart))",
            "expected": "\(expected)", "delivered": "\(delivered)", "duplicates": "\(duplicates)",
            "outOfOrder": "\(outOfOrder)", "missing": "\(missing)", "gaps": "\(gaps)", "mismatched": "\(mismatched)",
            "unexpected": "\(unexpected)", "unanswered": "\(unanswered)", "unconfirmed": "\(unconfirmed)", "seqConflicts": "\(seqConflicts)", "deliveriesPerSecond": "\(Int(Double(delivered) / secs))",
            "ok": "\(ok)",
        ].merging(histogram.latencyFields) { $1 }
    }
}
