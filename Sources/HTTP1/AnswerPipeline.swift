/// The answers of one HTTP/1.1 connection, kept in request order (RFC 9112 §9.3.2): an
/// ordered queue of answer slots and the rules for when a request may start, when reading
/// stops and resumes, and when the connection closes. Pure logic, no I/O: the connection
/// tells it what happened and carries out the steps it returns.
///
/// Every way of answering is a slot — at once, after Redis, after the worker pool, with a
/// streamed file body, after an upload, or an upgrade. The connection
/// 1. `admit`s each parsed request: `.start(slot)`, or `.wait` (the request stays parsed and
///    is admitted again when `next()` says `.admitWaiting`; reading stops meanwhile);
/// 2. writes each slot's answer straight to the socket when `answerGoesOut(slot)` (its turn
///    has come), else into a parked buffer for that slot, then calls `answered(slot, body:)`;
/// 3. after every event, carries out `next()` until it returns nil: `.emit` a parked answer,
///    `.startBody` of a parked answer with a body, `.admitWaiting` (admit the waiting request
///    again, before asking for the next step — the pipeline holds still until then),
///    `.resumeReading`, `.stopReading`, `.finish` (close once written).
///
/// The rules:
/// - answers leave in request order, each once; a slot whose body streams holds later
///   answers back until `bodyFinished(slot)`;
/// - a request starts while earlier ones are unanswered only when that cannot reorder effects:
///   all of them safe (RFC 9110 §9.2.1: processing safe requests in parallel is allowed), or
///   all of them answered in order by one ordered channel (`Lane.ordered`: one Redis
///   connection runs its commands in the order sent); never an upgrade, never more than
///   `capacity` at once;
/// - nothing after a request without keep-alive is admitted; `finishAfter(slot)` makes a slot
///   the last one written (an error that leaves a body unread), dropping later answers;
/// - `Expect: 100-continue` is answered by `continues(...)`, in one place.
public struct AnswerPipeline: Sendable {
    /// Identifies a request's answer (increasing in request order).
    public typealias Slot = UInt32

    /// How a request gets its answer.
    @frozen
    public enum Lane: UInt8, Sendable {
        /// While it is handled, on the loop (health, stats, embedded publishes).
        case now
        /// Later, in the order the requests started, through one ordered channel (Redis).
        case ordered
        /// Later, in any order (the worker pool: disk reads, uploads).
        case offLoop
        /// The connection becomes another protocol once every earlier answer is written.
        case upgrade
    }

    /// What the pipeline needs to know of a parsed request.
    @frozen
    public struct Request: Sendable, Equatable {
        public var lane: Lane
        /// GET, HEAD or OPTIONS (RFC 9110 §9.2.1): may run beside other safe requests.
        public var safe: Bool
        /// The connection persists after this exchange (RFC 9112 §9.3).
        public var keepAlive: Bool
        /// A HEAD request: its answer has no body (kept here for the connection).
        public var isHead: Bool

        public init(lane: Lane, safe: Bool, keepAlive: Bool, isHead: Bool = false) {
            self.lane = lane
            self.safe = safe
            self.keepAlive = keepAlive
            self.isHead = isHead
        }
    }

    /// The answer to `admit`.
    public enum Admission: Equatable, Sendable {
        /// Start handling the request; its answer goes to `slot`.
        case start(Slot)
        /// Keep the request parsed; `next()` says `.admitWaiting` when it may start.
        case wait
    }

    /// What the connection does next.
    @frozen
    public enum Step: Equatable, Sendable {
        /// Move this slot's parked answer to the output: its turn has come.
        case emit(Slot)
        /// Move this slot's parked answer head to the output and start its body stream.
        case startBody(Slot)
        /// The request that waited may start now: `admit` it again.
        case admitWaiting
        /// Parse what is buffered, and read from the socket again.
        case resumeReading
        /// Stop reading (a request waits, or the queue is full).
        case stopReading
        /// Every answer is written or dropped: close once the output is flushed.
        case finish
    }

    /// An entry's state and request, packed in one byte (bits 0–1 state, 2–3 lane, 4 safe,
    /// 5 keep-alive, 6 HEAD) so the whole pipeline is a few words with nothing to reference
    /// count: copying it, as every call through a class property does, costs no ARC.
    @usableFromInline static let working: UInt8 = 0, ready: UInt8 = 1, readyWithBody: UInt8 = 2, streaming: UInt8 = 3

    /// Unanswered or unwritten requests at most (later ones wait); at most `maxCapacity`.
    public let capacity: Int
    /// The most answers a pipeline can hold.
    public static let maxCapacity = 16
    /// Entry of slot `s` is `entries[s % 16]` for `first ..< first + count`.
    @usableFromInline var entries = SIMD16<UInt8>()
    /// The oldest slot not written yet (or the next slot when none is).
    @usableFromInline var first: Slot = 1
    @usableFromInline var count = 0
    @usableFromInline var waiting: Request?
    /// `.admitWaiting` was given: nothing else happens until the connection admits it.
    @usableFromInline var waitingOffered = false
    @usableFromInline var requestsEnded = false
    @usableFromInline var lastSlot: Slot?
    @usableFromInline var finishing = false
    @usableFromInline var reading = true

    public init(capacity: Int = 16) {
        precondition(capacity >= 1 && capacity <= Self.maxCapacity, "a pipeline holds 1 to 16 answers")
        self.capacity = capacity
    }

    @inline(__always) @usableFromInline
    static func pack(_ r: Request, state: UInt8) -> UInt8 {
        state | r.lane.rawValue << 2 | (r.safe ? 16 : 0) | (r.keepAlive ? 32 : 0) | (r.isHead ? 64 : 0)
    }

    @inline(__always) @usableFromInline
    static func unpack(_ b: UInt8) -> Request {
        Request(lane: Lane(rawValue: (b >> 2) & 3)!, safe: b & 16 != 0, keepAlive: b & 32 != 0, isHead: b & 64 != 0)
    }

    @inline(__always) @usableFromInline
    func entry(_ slot: Slot) -> UInt8 { entries[Int(slot & 15)] }

    @inline(__always) @usableFromInline
    func holds(_ slot: Slot) -> Bool { slot &- first < Slot(count) }

    // MARK: Questions

    /// Whether another request may be parsed and admitted now.
    @inlinable
    public var acceptsRequests: Bool { !requestsEnded && waiting == nil && !finishing }

    /// Whether a parsed request waits for admission (`admit` it again after `.admitWaiting`).
    @inlinable
    public var hasWaiting: Bool { waiting != nil }

    /// Whether no request is admitted and unwritten (and none waits).
    @inlinable
    public var isIdle: Bool { count == 0 && waiting == nil }

    /// Whether `slot`'s answer is the next to be written: it goes straight to the output.
    @inlinable @inline(__always)
    public func answerGoesOut(_ slot: Slot) -> Bool {
        count > 0 && slot == first && entry(slot) & 3 == Self.working
    }

    /// Whether `slot` still expects its answer (false once dropped by `finishAfter`).
    @inlinable
    public func expects(_ slot: Slot) -> Bool { holds(slot) && entry(slot) & 3 == Self.working }

    /// The request of an admitted slot that is not written yet.
    @inlinable
    public func request(_ slot: Slot) -> Request? { holds(slot) ? Self.unpack(entry(slot)) : nil }

    /// Whether `slot` keeps the connection open: its request asked for keep-alive and it is
    /// not the last answer the connection writes (see `isLast`).
    @inlinable @inline(__always)
    public func keepsAlive(_ slot: Slot) -> Bool {
        holds(slot) && entry(slot) & 32 != 0 && !isLast(slot)
    }

    /// Whether `slot` answers a HEAD request.
    @inlinable @inline(__always)
    public func isHead(_ slot: Slot) -> Bool { holds(slot) && entry(slot) & 64 != 0 }

    /// Admitted requests not written yet.
    public var pending: Int { count }

    /// Whether `slot`'s answer is the last one the connection writes: requests ended and no
    /// later one is admitted or waits (its answer says `Connection: close`).
    @inlinable
    public func isLast(_ slot: Slot) -> Bool {
        if let last = lastSlot, slot >= last { return true }
        return requestsEnded && waiting == nil && count > 0 && slot == first &+ Slot(count - 1)
    }

    // MARK: Events

    /// A request was parsed: may it start?
    @inlinable @inline(__always)
    public mutating func admit(_ r: Request) -> Admission {
        // The steady state: nothing pending, a keep-alive request that is no upgrade.
        if count == 0 && r.keepAlive && r.lane != .upgrade {
            waiting = nil
            entries[Int(first & 15)] = Self.pack(r, state: Self.working)
            count = 1
            return .start(first)
        }
        return admitSlow(r)
    }

    /// The steady state's admission: when nothing is admitted or waits and requests go on,
    /// a keep-alive request that is no upgrade starts at once and its answer goes straight
    /// out (`answerGoesOut`); returns its slot, or nil when `admit` must decide.
    @inlinable @inline(__always)
    public mutating func admitWhenIdle(_ r: Request) -> Slot? {
        guard count == 0 && waiting == nil && !requestsEnded && r.keepAlive && r.lane != .upgrade else { return nil }
        entries[Int(first & 15)] = Self.pack(r, state: Self.working)
        count = 1
        return first
    }

    @usableFromInline
    mutating func admitSlow(_ r: Request) -> Admission {
        guard mayStart(r) else {
            waiting = r
            waitingOffered = false
            return .wait
        }
        waiting = nil
        waitingOffered = false
        let slot = first &+ Slot(count)
        entries[Int(slot & 15)] = Self.pack(r, state: Self.working)
        count += 1
        if !r.keepAlive {
            endRequests()
            finishAfter(slot)
        }
        if r.lane == .upgrade { endRequests() }
        return .start(slot)
    }

    private func mayStart(_ r: Request) -> Bool {
        if count == 0 { return true }
        if count >= capacity || r.lane == .upgrade { return false }
        var s = first
        for _ in 0..<count {
            let b = entry(s)
            s &+= 1
            guard b & 3 == Self.working else { continue }
            let e = Self.unpack(b)
            if !((r.safe && e.safe) || (r.lane == .ordered && e.lane == .ordered)) { return false }
        }
        return true
    }

    private mutating func setState(_ slot: Slot, _ state: UInt8) {
        let i = Int(slot & 15)
        entries[i] = entries[i] & ~3 | state
    }

    /// `slot`'s answer was written (straight out when it was its turn, else parked);
    /// `body`: a body stream follows its head. Answers for dropped slots are ignored.
    @inlinable @inline(__always)
    public mutating func answered(_ slot: Slot, body: Bool = false) {
        // The steady state: the only answer, written straight out, no body, nothing after it.
        if count == 1 && slot == first && !body && lastSlot == nil && entry(slot) & 3 == Self.working {
            first &+= 1
            count = 0
            return
        }
        answeredSlow(slot, body: body)
    }

    @usableFromInline
    mutating func answeredSlow(_ slot: Slot, body: Bool) {
        guard holds(slot), entry(slot) & 3 == Self.working else { return }
        if slot == first {
            if body { setState(slot, Self.streaming) } else { pop() }
        } else {
            setState(slot, body ? Self.readyWithBody : Self.ready)
        }
    }

    /// The body stream of the slot being written ended.
    public mutating func bodyFinished(_ slot: Slot) {
        guard count > 0, slot == first, entry(slot) & 3 == Self.streaming else { return }
        pop()
    }

    /// After `slot` nothing more is written: later answers are dropped and the connection
    /// closes once `slot` is out (an error answer that leaves a request body unread).
    public mutating func finishAfter(_ slot: Slot) {
        endRequests()
        waiting = nil // it came after `slot`
        waitingOffered = false
        if lastSlot == nil || slot < lastSlot! { lastSlot = slot }
    }

    /// The request that waits will not be admitted after all (the server shuts down, or it
    /// was an error answer that can wait no more): it is forgotten.
    public mutating func dropWaiting() {
        waiting = nil
        waitingOffered = false
    }

    /// No request after those admitted (and the one waiting, if any) will be handled: the
    /// peer sent no more (end of input), it asked to close, the request was malformed, or the
    /// server shuts down. The connection finishes once every answer is written.
    public mutating func endRequests() { requestsEnded = true }

    private mutating func pop() {
        let done = first
        first &+= 1
        count -= 1
        if let last = lastSlot, done >= last {
            first &+= Slot(count) // the rest is dropped: never written
            count = 0
            waiting = nil
            waitingOffered = false
        }
    }

    // MARK: Steps

    /// The next thing the connection must do, or nil when there is nothing to do now.
    @inlinable @inline(__always)
    public mutating func next() -> Step? {
        // The steady state of a keep-alive connection: nothing admitted, nothing waits, reading.
        if count == 0 && waiting == nil && !requestsEnded && reading { return nil }
        return nextSlow()
    }

    @usableFromInline
    mutating func nextSlow() -> Step? {
        if finishing { return nil }
        if count > 0 {
            let slot = first
            switch entry(slot) & 3 {
            case Self.ready:
                pop()
                return .emit(slot)
            case Self.readyWithBody:
                setState(slot, Self.streaming)
                return .startBody(slot)
            default:
                break
            }
        }
        if let w = waiting {
            if waitingOffered { return nil } // until the connection admits it
            if mayStart(w) {
                waitingOffered = true
                return .admitWaiting
            }
        }
        if requestsEnded && waiting == nil && count == 0 {
            finishing = true
            return .finish
        }
        let wanted = !requestsEnded && waiting == nil && count < capacity
        if wanted != reading {
            reading = wanted
            return wanted ? .resumeReading : .stopReading
        }
        return nil
    }

    // MARK: One rule

    /// Whether to send `100 Continue` (RFC 9110 §10.1.1): the client asked for it, the
    /// request has started, its body has not arrived, and the server is going to read it —
    /// never for a request that waits or that is answered (with an error) without its body.
    public static func continues(expected: Bool, bodyArrived: Bool, bodyWanted: Bool) -> Bool {
        expected && !bodyArrived && bodyWanted
    }
}
