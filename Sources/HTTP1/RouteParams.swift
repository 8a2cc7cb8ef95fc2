/// Up to four path parameters captured by a ``Router`` match, stored inline.
///
/// Each parameter is a byte range into the path buffer given to
/// ``Router/match(method:path:)``, in the order the `:name` segments appear in
/// the pattern. The bytes are raw: percent-decoding is the handler's business.
public struct RouteParams: Equatable, Hashable, Sendable {
    /// The most parameters a pattern may declare.
    public static let capacity = 4

    // Four inline (start, count) pairs: a tuple-free layout that never allocates.
    @usableFromInline var start0: Int32 = 0, count0: Int32 = 0
    @usableFromInline var start1: Int32 = 0, count1: Int32 = 0
    @usableFromInline var start2: Int32 = 0, count2: Int32 = 0
    @usableFromInline var start3: Int32 = 0, count3: Int32 = 0

    /// Number of captured parameters.
    public var count: Int { storedCount }
    @usableFromInline var storedCount: Int = 0

    /// Creates an empty set of parameters.
    public init() {}

    /// The byte range of parameter `i` (0-based) within the path buffer.
    public subscript(i: Int) -> Range<Int> {
        precondition(i >= 0 && i < count, "route parameter index out of range")
        let (start, length): (Int32, Int32)
        switch i {
        case 0: (start, length) = (start0, count0)
        case 1: (start, length) = (start1, count1)
        case 2: (start, length) = (start2, count2)
        default: (start, length) = (start3, count3)
        }
        return Int(start) ..< Int(start) + Int(length)
    }

    /// The bytes of parameter `i` inside `path` (the buffer that was matched).
    public func bytes(_ i: Int, in path: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: path[self[i]])
    }

    /// Appends a capture; the router never declares more than ``capacity``.
    @inline(__always)
    @inlinable
    mutating func append(start: Int, count length: Int) {
        let s = Int32(truncatingIfNeeded: start)
        let n = Int32(truncatingIfNeeded: length)
        switch count {
        case 0: (start0, count0) = (s, n)
        case 1: (start1, count1) = (s, n)
        case 2: (start2, count2) = (s, n)
        default: (start3, count3) = (s, n)
        }
        storedCount &+= 1
    }
}
