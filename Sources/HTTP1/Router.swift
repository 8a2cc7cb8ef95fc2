/// The outcome of ``Router/match(method:path:)``.
public enum RouteMatch<Handler> {
    /// A route accepts this method and path.
    case found(Handler, maxBody: Int, params: RouteParams)
    /// No pattern matches the path (404).
    case notFound
    /// A pattern matches the path but not the method (405); `allow` is the
    /// value for the Allow header (RFC 9110 §15.5.6, §10.2.1), e.g. `"GET, HEAD"`.
    case methodNotAllowed(allow: String)
}

extension RouteMatch: Sendable where Handler: Sendable {}

/// A method-and-path router for a fixed set of routes registered at start-up.
///
/// Patterns are split at `add` time into literal segments, whose bytes live in
/// one shared array, and `:name` segments that capture one non-empty path
/// segment. Matching walks the raw path bytes against those segments, so it
/// allocates nothing: the only work per request is byte compares.
///
/// Rules: segments compare byte-for-byte (no percent-decoding, no case folding);
/// a trailing slash is significant (`/health/` does not match `/health`); when
/// several patterns match, the one with the most literal segments wins, then the
/// earliest added; HEAD uses the GET route when no HEAD route exists (RFC 9110 §9.3.2).
/// It is a class whose match tables are plain pointers, rebuilt by each `add`: `match` is
/// `@inlinable` (specialised for the caller's handler type, no metadata look-ups) and reads
/// only those pointers, so a request costs no reference counting. Arrays, or a struct the
/// caller holds, were copied and retained on every request.
public final class Router<Handler> {
    /// One pattern segment: a literal (`start`, `length` into `literals`) or,
    /// when `start` is -1, a parameter.
    @usableFromInline struct Segment: Sendable {
        @usableFromInline var start: Int32
        @usableFromInline var length: Int32
        @usableFromInline var isParam: Bool { start < 0 }
    }

    /// A distinct pattern; all its fields are trivial so matching touches no
    /// reference counts. Its Allow string lives apart, in `allowHeaders`.
    @usableFromInline struct Pattern: Sendable {
        @usableFromInline var firstSegment: Int
        @usableFromInline var segmentCount: Int
        @usableFromInline var literalCount: Int
        @usableFromInline var methods: UInt16  // bit per HTTPMethod raw value
    }

    @usableFromInline struct Route {
        @usableFromInline var pattern: Int
        @usableFromInline var method: HTTPMethod
        @usableFromInline var maxBody: Int
        @usableFromInline var handler: Handler
    }

    @usableFromInline var literals: [UInt8] = []
    @usableFromInline var segments: [Segment] = []
    @usableFromInline var patterns: [Pattern] = []
    var sources: [String] = []
    @usableFromInline var allowHeaders: [String] = []
    @usableFromInline var routes: [Route] = []

    /// Match-time copies of the tables above (owned; rebuilt by `add`).
    @usableFromInline var literalTable = UnsafeMutableBufferPointer<UInt8>(start: nil, count: 0)
    @usableFromInline var segmentTable = UnsafeMutableBufferPointer<Segment>(start: nil, count: 0)
    @usableFromInline var patternTable = UnsafeMutableBufferPointer<Pattern>(start: nil, count: 0)
    @usableFromInline var routeTable = UnsafeMutableBufferPointer<Route>(start: nil, count: 0)

    /// Creates an empty router.
    public init() {}

    deinit { freeTables() }

    private func freeTables() {
        literalTable.deallocate()
        segmentTable.deallocate()
        patternTable.deallocate()
        _ = routeTable.deinitialize()
        routeTable.deallocate()
    }

    private func rebuildTables() {
        freeTables()
        func copy<T>(_ a: [T]) -> UnsafeMutableBufferPointer<T> {
            let b = UnsafeMutableBufferPointer<T>.allocate(capacity: Swift.max(a.count, 1))
            _ = b.initialize(from: a)
            return UnsafeMutableBufferPointer(rebasing: b[0..<a.count])
        }
        literalTable = copy(literals)
        segmentTable = copy(segments)
        patternTable = copy(patterns)
        routeTable = copy(routes)
    }

    /// Registers `handler` for `method` on `pattern`, e.g. `/api/tests/:runId/events`.
    ///
    /// `maxBody` is the largest request body the route accepts (the caller turns
    /// larger bodies into 413). Malformed patterns (not starting with `/`, an
    /// empty `:` name, more than ``RouteParams/capacity`` parameters), `.other`
    /// and duplicate method/pattern pairs are programming errors and trap.
    public func add(_ method: HTTPMethod, _ pattern: String, maxBody: Int, _ handler: Handler) {
        precondition(method != .other, "routes need a concrete method")
        let index: Int
        if let existing = sources.firstIndex(of: pattern) {
            index = existing
        } else {
            index = appendPattern(pattern)
        }
        let bit = UInt16(1) << UInt16(method.rawValue)
        precondition(patterns[index].methods & bit == 0, "duplicate route \(method.name) \(pattern)")
        patterns[index].methods |= bit
        allowHeaders[index] = Self.allowHeader(patterns[index].methods)
        routes.append(Route(pattern: index, method: method, maxBody: maxBody, handler: handler))
        rebuildTables()
    }

    /// Splits `pattern` into segments and records it; returns its index.
    func appendPattern(_ pattern: String) -> Int {
        let bytes = Array(pattern.utf8)
        precondition(bytes.first == ASCII.slash, "route pattern must start with '/': \(pattern)")
        let first = segments.count
        var params = 0
        var literalCount = 0
        // "/" is one empty segment, "/a/" is "a" then an empty segment: the same
        // split match(method:path:) applies, so trailing slashes stay significant.
        for part in bytes.dropFirst().split(separator: ASCII.slash, omittingEmptySubsequences: false) {
            if part.first == ASCII.colon {
                precondition(part.count > 1, "empty parameter name in \(pattern)")
                params += 1
                segments.append(Segment(start: -1, length: 0))
            } else {
                literalCount += 1
                segments.append(Segment(start: Int32(literals.count), length: Int32(part.count)))
                literals.append(contentsOf: part)
            }
        }
        precondition(params <= RouteParams.capacity, "more than \(RouteParams.capacity) parameters in \(pattern)")
        patterns.append(Pattern(
            firstSegment: first, segmentCount: segments.count - first, literalCount: literalCount, methods: 0))
        sources.append(pattern)
        allowHeaders.append("")
        return patterns.count - 1
    }

    /// The Allow value for a method set, in declaration order, HEAD implied by GET.
    static func allowHeader(_ methods: UInt16) -> String {
        var names: [String] = []
        for method in HTTPMethod.allCases where method != .other {
            let bit = UInt16(1) << UInt16(method.rawValue)
            let implied = method == .head && methods & (1 << UInt16(HTTPMethod.get.rawValue)) != 0
            if methods & bit != 0 || implied { names.append(method.name.description) }
        }
        return names.joined(separator: ", ")
    }
}

extension Router: @unchecked Sendable where Handler: Sendable {}
extension Router.Route: Sendable where Handler: Sendable {}
