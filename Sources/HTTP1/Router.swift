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
public struct Router<Handler> {
    /// One pattern segment: a literal (`start`, `length` into `literals`) or,
    /// when `start` is -1, a parameter.
    struct Segment: Sendable {
        var start: Int32
        var length: Int32
        var isParam: Bool { start < 0 }
    }

    /// A distinct pattern; all its fields are trivial so matching touches no
    /// reference counts. Its Allow string lives apart, in `allowHeaders`.
    struct Pattern: Sendable {
        var firstSegment: Int
        var segmentCount: Int
        var literalCount: Int
        var methods: UInt16  // bit per HTTPMethod raw value
    }

    struct Route {
        var pattern: Int
        var method: HTTPMethod
        var maxBody: Int
        var handler: Handler
    }

    var literals: [UInt8] = []
    var segments: [Segment] = []
    var patterns: [Pattern] = []
    var sources: [String] = []
    var allowHeaders: [String] = []
    var routes: [Route] = []

    /// Creates an empty router.
    public init() {}

    /// Registers `handler` for `method` on `pattern`, e.g. `/api/tests/:runId/events`.
    ///
    /// `maxBody` is the largest request body the route accepts (the caller turns
    /// larger bodies into 413). Malformed patterns (not starting with `/`, an
    /// empty `:` name, more than ``RouteParams/capacity`` parameters), `.other`
    /// and duplicate method/pattern pairs are programming errors and trap.
    public mutating func add(_ method: HTTPMethod, _ pattern: String, maxBody: Int, _ handler: Handler) {
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
    }

    /// Splits `pattern` into segments and records it; returns its index.
    mutating func appendPattern(_ pattern: String) -> Int {
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

extension Router: Sendable where Handler: Sendable {}
extension Router.Route: Sendable where Handler: Sendable {}
