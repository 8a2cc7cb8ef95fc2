// Strict RFC 8259 validation without decoding: the published bytes are forwarded verbatim,
// so all we need is a yes/no, the value's kind and its range. One pass, iterative, no
// allocation; containers are tracked in a 64-byte bit stack (JSONScanner+DepthStack.swift).

/// A zero-allocation JSON validator and walker over raw bytes (RFC 8259).
///
/// `validate` checks a whole buffer; the walkers (`forEachElement`, `forEachMember`, `kind`,
/// `stringEquals`, `nonNegativeInteger`) then read ranges of an already validated buffer by
/// byte offsets, without `String`, arrays or escaping closures.
public enum JSONScanner {
    /// Validates that `bytes` is exactly one JSON value (RFC 8259 §2: `JSON-text = ws value ws`,
    /// where ws is only space, tab, LF and CR). Any value is allowed at the top level, scalars
    /// included. Returns the value's kind and its range without the surrounding whitespace.
    ///
    /// - Parameter maxDepth: the most containers (objects plus arrays) that may be open at
    ///   once (RFC 8259 §9 lets a parser limit nesting). Values above 512, the size of the
    ///   inline depth stack, are treated as 512; zero or less rejects every container.
    ///
    /// Reads only `bytes[0 ..< bytes.count]` and allocates nothing.
    public static func validate(
        _ bytes: UnsafeRawBufferPointer, maxDepth: Int = 64
    ) -> Result<(kind: JSONKind, range: Range<Int>), JSONError> {
        guard let base = bytes.baseAddress, bytes.count > 0 else {
            return .failure(JSONError(offset: 0, reason: "empty input"))
        }
        do {
            return .success(try scan(JSONCursor(base: base, end: bytes.count), maxDepth: maxDepth))
        } catch {
            return .failure(error)
        }
    }

    /// The validator proper: a value loop and an after-value loop instead of recursion.
    static func scan(_ c: JSONCursor, maxDepth: Int) throws(JSONError) -> (kind: JSONKind, range: Range<Int>) {
        let end = c.end
        // RFC 8259 §8.1: implementations MUST NOT add a byte order mark; we may reject one.
        if end >= 3, c.byte(0) == 0xEF, c.byte(1) == 0xBB, c.byte(2) == 0xBF {
            throw JSONError(offset: 0, reason: "byte order mark is not allowed")
        }
        var i = c.skipWhitespace(0)
        guard i < end else { throw JSONError(offset: i, reason: "empty input") }
        let start = i
        let limit = min(maxDepth, JSONDepthStack.capacity)
        var stack = JSONDepthStack()
        var depth = 0
        var inObject = false

        value: while true {
            // A value is expected at `i` (whitespace already skipped).
            guard i < end else {
                throw JSONError(offset: i, reason: inObject ? "unterminated object" : "unterminated array")
            }
            let b = c.byte(i)
            switch b {
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                // RFC 8259 §9: "An implementation may set limits on the maximum depth of nesting."
                guard depth < limit else { throw JSONError(offset: i, reason: "nesting deeper than maxDepth") }
                inObject = b == UInt8(ascii: "{")
                stack.set(depth, isObject: inObject)
                depth &+= 1
                i = c.skipWhitespace(i &+ 1)
                if i < end, c.byte(i) == b &+ 2 {  // "}" is "{" + 2, "]" is "[" + 2
                    i &+= 1
                    depth &-= 1
                    inObject = depth > 0 && stack.isObject(depth &- 1)
                } else {
                    if inObject { i = try scanKeyAndColon(c, i) }
                    continue value
                }
            case UInt8(ascii: "\""):
                i = try c.scanString(i)
            case UInt8(ascii: "-"), UInt8(ascii: "0") ... UInt8(ascii: "9"):
                i = try c.scanNumber(i)
            case UInt8(ascii: "t"), UInt8(ascii: "f"), UInt8(ascii: "n"):
                i = try c.scanLiteral(i)
            default:
                throw c.notAValue(i)
            }

            // After a value: a separator, the closer of the open container, or the end.
            while true {
                let valueEnd = i
                i = c.skipWhitespace(i)
                if depth == 0 {
                    guard i == end else { throw c.unexpected(i, "unexpected data after the value") }
                    return (kind: kindOfValue(startingWith: c.byte(start)), range: start ..< valueEnd)
                }
                guard i < end else {
                    throw JSONError(offset: i, reason: inObject ? "unterminated object" : "unterminated array")
                }
                let b = c.byte(i)
                let closer = inObject ? UInt8(ascii: "}") : UInt8(ascii: "]")
                if b == UInt8(ascii: ",") {
                    let comma = i
                    i = c.skipWhitespace(i &+ 1)
                    // RFC 8259 §4, §5: separators only go between members / values.
                    if i < end, c.byte(i) == closer { throw JSONError(offset: comma, reason: "trailing comma") }
                    if inObject { i = try scanKeyAndColon(c, i) }
                    continue value
                }
                guard b == closer else {
                    throw c.unexpected(i, inObject ? "expected ',' or '}' in object" : "expected ',' or ']' in array")
                }
                i &+= 1
                depth &-= 1
                inObject = depth > 0 && stack.isObject(depth &- 1)
            }
        }
    }

    /// Offset of the member value after `"key" ws : ws`, the key starting at `i`.
    /// RFC 8259 §4: `member = string name-separator value`.
    @inline(__always)
    static func scanKeyAndColon(_ c: JSONCursor, _ i: Int) throws(JSONError) -> Int {
        guard i < c.end else { throw JSONError(offset: i, reason: "unterminated object") }
        guard c.byte(i) == UInt8(ascii: "\"") else { throw c.unexpected(i, "expected a string key in object") }
        let i = c.skipWhitespace(try c.scanString(i))
        guard i < c.end else { throw JSONError(offset: i, reason: "unterminated object") }
        guard c.byte(i) == UInt8(ascii: ":") else { throw c.unexpected(i, "expected ':' after object key") }
        return c.skipWhitespace(i &+ 1)
    }
}
