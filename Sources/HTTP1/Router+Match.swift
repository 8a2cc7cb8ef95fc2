// Request-time matching: byte compares over pre-split patterns, no allocation.

extension Router {
    /// Finds the route for `method` and the raw `path` bytes (the request-target
    /// up to `?`, as ``RequestHead/path(in:)`` returns it). Parameter ranges in
    /// the result are relative to `path`.
    @inlinable
    public func match(method: HTTPMethod, path: UnsafeRawBufferPointer) -> RouteMatch<Handler> {
        guard path.count > 0, path[0] == ASCII.slash else { return .notFound }
        let want = UInt16(1) << UInt16(method.rawValue)
        let get = UInt16(1) << UInt16(HTTPMethod.get.rawValue)
        var best = -1
        var bestLiterals = -1
        var bestParams = RouteParams()
        var bestMethod = method
        var disallowed = -1
        var p = 0
        let patterns = patternTable, literals = UnsafeBufferPointer(literalTable)
        let segments = UnsafeBufferPointer(segmentTable)
        // A pattern matches only paths with as many segments: count them once, so most
        // patterns are rejected without touching their bytes.
        var pathSegments = 0
        for b in path where b == ASCII.slash { pathSegments &+= 1 }
        while p < patterns.count {
            let pattern = patterns[p]
            var params = RouteParams()
            if pattern.segmentCount == pathSegments && pattern.literalCount > bestLiterals
                && Self.matches(pattern, path, &params, literals, segments) {
                if pattern.methods & want != 0 {
                    (best, bestLiterals, bestParams, bestMethod) = (p, pattern.literalCount, params, method)
                } else if method == .head && pattern.methods & get != 0 {
                    // RFC 9110 §9.3.2: HEAD is GET without content.
                    (best, bestLiterals, bestParams, bestMethod) = (p, pattern.literalCount, params, .get)
                } else if disallowed < 0 {
                    disallowed = p
                }
            }
            p &+= 1
        }
        if best >= 0 {
            let routes = routeTable
            var r = 0
            while r < routes.count {
                if routes[r].pattern == best && routes[r].method == bestMethod {
                    return .found(routes[r].handler, maxBody: routes[r].maxBody, params: bestParams)
                }
                r &+= 1
            }
        }
        if disallowed >= 0 { return .methodNotAllowed(allow: allowHeaders[disallowed]) } // cold path
        return .notFound
    }

    /// Whether `path` (known to start with `/`) matches `pattern` segment for segment.
    @inlinable @inline(__always)
    static func matches(_ pattern: Pattern, _ path: UnsafeRawBufferPointer, _ params: inout RouteParams,
                        _ literals: UnsafeBufferPointer<UInt8>, _ segments: UnsafeBufferPointer<Segment>) -> Bool {
        let end = path.count
        var pos = 1
        var s = 0
        while s < pattern.segmentCount {
            if s > 0 {
                guard pos < end && path[pos] == ASCII.slash else { return false }
                pos &+= 1
            }
            var segmentEnd = pos
            while segmentEnd < end && path[segmentEnd] != ASCII.slash { segmentEnd &+= 1 }
            let length = segmentEnd &- pos
            let segment = segments[pattern.firstSegment &+ s]
            if segment.isParam {
                guard length > 0 else { return false }
                params.append(start: pos, count: length)
            } else {
                guard length == Int(segment.length) else { return false }
                var k = 0
                let base = Int(segment.start)
                while k < length {
                    guard path[pos &+ k] == literals[base &+ k] else { return false }
                    k &+= 1
                }
            }
            pos = segmentEnd
            s &+= 1
        }
        return pos == end
    }
}
