/// A streaming UTF-8 validator (RFC 3629 §4) for text messages (RFC 6455 §5.6, §8.1).
///
/// Feed it the unmasked payload chunk by chunk, in order; it keeps the state of a sequence
/// split across chunks (or fragments) and reports the first invalid byte immediately, so a
/// connection can be failed with 1007 before the rest of the message arrives. It rejects
/// overlong forms, surrogates (U+D800–U+DFFF) and code points above U+10FFFF by narrowing
/// the range allowed for the byte after a lead byte (RFC 3629 §4, the "UTF8-tail" table).
///
/// Allocation-free; ASCII is skipped 8 bytes at a time with unaligned word loads.
public struct UTF8Validator: Sendable {
    /// Continuation bytes still expected for the current sequence.
    @usableFromInline var needed: UInt8 = 0
    /// The range allowed for the next continuation byte (narrowed after E0, ED, F0, F4).
    @usableFromInline var lower: UInt8 = 0x80
    @usableFromInline var upper: UInt8 = 0xBF
    /// Sticky: once invalid, always invalid.
    @usableFromInline var failed = false

    /// A validator at the start of a message.
    @inlinable
    public init() {}

    /// True when everything fed so far is valid and no sequence is left unfinished: check this
    /// at the end of a message (a truncated final sequence is invalid).
    @inlinable
    public var isComplete: Bool { !failed && needed == 0 }

    /// True once an invalid byte has been seen.
    @inlinable
    public var hasFailed: Bool { failed }

    /// Forgets all state (start of a new message).
    @inlinable
    public mutating func reset() { self = UTF8Validator() }

    /// Validates the next chunk. Returns false as soon as an invalid byte is found (and on
    /// every later call); true means "valid so far" — see `isComplete` for the end.
    @inlinable
    public mutating func feed(_ bytes: UnsafeRawBufferPointer) -> Bool {
        if failed { return false }
        guard let base = bytes.baseAddress else { return true }
        let count = bytes.count
        var i = 0
        while i < count {
            if needed == 0 {
                // ASCII fast path: 8 bytes per step while no byte has its high bit set.
                while i &+ 8 <= count {
                    let word = base.loadUnaligned(fromByteOffset: i, as: UInt64.self)
                    if word & 0x8080_8080_8080_8080 != 0 { break }
                    i &+= 8
                }
                if i >= count { break }
                let b = base.load(fromByteOffset: i, as: UInt8.self)
                i &+= 1
                if b < 0x80 { continue }
                if !start(lead: b) {
                    failed = true
                    return false
                }
            } else {
                let b = base.load(fromByteOffset: i, as: UInt8.self)
                i &+= 1
                guard b >= lower && b <= upper else {
                    failed = true
                    return false
                }
                needed &-= 1
                lower = 0x80
                upper = 0xBF
            }
        }
        return true
    }

    /// RFC 3629 §4: the lead byte fixes the sequence length and the range of the second byte.
    @inlinable
    mutating func start(lead b: UInt8) -> Bool {
        switch b {
        case 0xC2...0xDF: needed = 1  // C0, C1 would be overlong ASCII
        case 0xE0: needed = 2; lower = 0xA0  // no overlong 3-byte forms
        case 0xE1...0xEC, 0xEE...0xEF: needed = 2
        case 0xED: needed = 2; upper = 0x9F  // no surrogates U+D800–U+DFFF
        case 0xF0: needed = 3; lower = 0x90  // no overlong 4-byte forms
        case 0xF1...0xF3: needed = 3
        case 0xF4: needed = 3; upper = 0x8F  // nothing above U+10FFFF
        default: return false  // 80–BF stray continuation, C0, C1, F5–FF
        }
        return true
    }

    /// Validates a complete buffer in one go.
    @inlinable
    public static func validate(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var validator = UTF8Validator()
        return validator.feed(bytes) && validator.isComplete
    }
}
