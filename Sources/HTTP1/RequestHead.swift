/// Where one field line sits in the parsed buffer (picohttpparser's `phr_header`,
/// as offsets instead of pointers so a slot stays valid if the buffer moves).
///
/// Offsets are relative to the start of the buffer handed to
/// ``RequestParser/parse(_:maxHeadBytes:slots:into:)``. The value has its
/// surrounding OWS removed (RFC 9112 §5.1); the name is exactly as sent.
public struct HTTPHeaderSlot: Equatable, Hashable, Sendable {
    /// Offset of the first byte of the field name.
    public var nameStart: Int32
    /// Length of the field name in bytes (never zero in a parsed slot).
    public var nameLength: Int32
    /// Offset of the first byte of the trimmed field value.
    public var valueStart: Int32
    /// Length of the trimmed field value in bytes (may be zero).
    public var valueLength: Int32

    /// Creates a slot; the default is an empty slot for preallocated storage.
    public init(nameStart: Int32 = 0, nameLength: Int32 = 0, valueStart: Int32 = 0, valueLength: Int32 = 0) {
        self.nameStart = nameStart
        self.nameLength = nameLength
        self.valueStart = valueStart
        self.valueLength = valueLength
    }
}

/// The parsed request line and the framing facts the server needs from the fields.
///
/// Everything is a number: byte offsets into the parsed buffer, or flags decided
/// while the fields were scanned, so filling one allocates nothing.
public struct RequestHead: Equatable, Hashable, Sendable {
    /// The request method.
    public var method: HTTPMethod = .get
    /// Offset of the raw request-target (RFC 9112 §3.2).
    public var targetStart: Int = 0
    /// Length of the raw request-target.
    public var targetLength: Int = 0
    /// Offset of the path. Equals `targetStart` for origin-form and `*`; for
    /// absolute-form it is where the path follows the authority (RFC 9112 §3.2.2).
    public var pathStart: Int = 0
    /// Bytes of path: the target up to (not including) the first `?`, or for
    /// absolute-form the part after the authority. Zero for authority-form.
    /// The query is whatever follows a `?` at `pathStart + pathLength`.
    public var pathLength: Int = 0
    /// The minor version: 0 for HTTP/1.0, 1 for HTTP/1.1.
    public var versionMinor: UInt8 = 1
    /// Number of slots filled.
    public var headerCount: Int = 0
    /// Bytes of the head including any skipped leading empty lines and the
    /// terminating empty line; the body or the next pipelined request starts here.
    public var headLength: Int = 0
    /// The Content-Length value, or -1 when absent (always -1 when `chunked`).
    public var contentLength: Int64 = -1
    /// The body uses the chunked transfer coding (RFC 9112 §7.1).
    public var chunked: Bool = false
    /// The connection persists after this exchange (RFC 9112 §9.3).
    public var keepAlive: Bool = true
    /// The client sent `Expect: 100-continue` in an HTTP/1.1 request (RFC 9110 §10.1.1).
    public var expectContinue: Bool = false
    /// The client asked to switch protocols: Connection lists `upgrade` and an
    /// Upgrade field is present (RFC 9110 §7.8).
    public var upgrade: Bool = false

    /// Creates an empty head for the parser to fill.
    public init() {}

    /// The request-target bytes inside `buffer`.
    public func target(in buffer: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: buffer[targetStart ..< targetStart + targetLength])
    }

    /// The path bytes inside `buffer` (still percent-encoded).
    public func path(in buffer: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: buffer[pathStart ..< pathStart + pathLength])
    }

    /// The query bytes after `?`, or `nil` when the target has no `?`.
    public func query(in buffer: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
        let questionMark = pathStart + pathLength
        let targetEnd = targetStart + targetLength
        guard questionMark < targetEnd, buffer[questionMark] == ASCII.question else { return nil }
        return UnsafeRawBufferPointer(rebasing: buffer[questionMark + 1 ..< targetEnd])
    }

    /// The value of the first field named `lowercaseName` (ASCII case-insensitive),
    /// or `nil`. `slots` are the slots passed to the parser; only the first
    /// `headerCount` are read.
    public func header(
        _ lowercaseName: StaticString, in buffer: UnsafeRawBufferPointer,
        slots: UnsafeBufferPointer<HTTPHeaderSlot>
    ) -> UnsafeRawBufferPointer? {
        var i = 0
        let n = min(headerCount, slots.count)
        while i < n {
            let slot = slots[i]
            if equalsIgnoringCase(buffer, start: Int(slot.nameStart), length: Int(slot.nameLength), lowercaseName) {
                let start = Int(slot.valueStart)
                return UnsafeRawBufferPointer(rebasing: buffer[start ..< start + Int(slot.valueLength)])
            }
            i += 1
        }
        return nil
    }

    /// Whether any field named `lowercaseName` carries the comma-separated list
    /// element `lowercaseToken`, ASCII case-insensitive (RFC 9110 §5.6.1, §5.3:
    /// repeated fields form one list). For example
    /// `hasToken("upgrade", inHeader: "connection", …)` is true for
    /// `Connection: keep-alive, Upgrade`.
    public func hasToken(
        _ lowercaseToken: StaticString, inHeader lowercaseName: StaticString,
        in buffer: UnsafeRawBufferPointer, slots: UnsafeBufferPointer<HTTPHeaderSlot>
    ) -> Bool {
        var found = false
        var i = 0
        let n = min(headerCount, slots.count)
        while i < n && !found {
            let slot = slots[i]
            i += 1
            guard equalsIgnoringCase(buffer, start: Int(slot.nameStart), length: Int(slot.nameLength), lowercaseName)
            else { continue }
            let start = Int(slot.valueStart)
            forEachListElement(buffer, start: start, end: start + Int(slot.valueLength)) { s, count in
                found = equalsIgnoringCase(buffer, start: s, length: count, lowercaseToken)
                return !found
            }
        }
        return found
    }
}
