// The public vocabulary of the JSON scanner: what kind a value is, and why bytes are not JSON.

/// The kind of a JSON value (RFC 8259 §3: object, array, number, string, or one of the
/// three literal names).
public enum JSONKind: UInt8, Sendable {
    /// `{ ... }` (RFC 8259 §4).
    case object
    /// `[ ... ]` (RFC 8259 §5).
    case array
    /// `"..."` (RFC 8259 §7).
    case string
    /// A number (RFC 8259 §6).
    case number
    /// The literal `true` (RFC 8259 §3).
    case `true`
    /// The literal `false` (RFC 8259 §3).
    case `false`
    /// The literal `null` (RFC 8259 §3).
    case null
}

/// Why bytes are not valid JSON: the byte offset where the problem was found and a short,
/// fixed human reason ("unterminated string", "trailing comma", ...).
///
/// The reason is a `StaticString` so that building an error never allocates; `message`
/// formats it only when someone wants to show it.
public struct JSONError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Offset of the offending byte, relative to the start of the validated buffer.
    public let offset: Int
    /// A short fixed description of the problem.
    public let reason: StaticString

    /// An error at `offset` for `reason`.
    public init(offset: Int, reason: StaticString) {
        self.offset = offset
        self.reason = reason
    }

    /// `"<reason> at byte <offset>"`, for logs and HTTP 400 bodies.
    public var message: String { "\(reason) at byte \(offset)" }

    /// Same as `message`.
    public var description: String { message }

    /// Equal when the offsets are equal and the reasons have the same bytes.
    public static func == (lhs: JSONError, rhs: JSONError) -> Bool {
        guard lhs.offset == rhs.offset else { return false }
        return lhs.reason.withUTF8Buffer { a in
            rhs.reason.withUTF8Buffer { b in a.elementsEqual(b) }
        }
    }
}
