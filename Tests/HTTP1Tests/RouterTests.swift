import HTTP1
import Testing

@Suite("Router")
struct RouterTests {
    /// What a match came to, in comparable form.
    enum Outcome: Equatable {
        case found(String, maxBody: Int, params: [String])
        case notFound
        case methodNotAllowed(String)
    }

    static func makeRouter() -> Router<String> {
        let router = Router<String>()
        router.add(.get, "/", maxBody: 0, "root")
        router.add(.get, "/health", maxBody: 0, "health")
        router.add(.get, "/api/tests/:runId/events", maxBody: 0, "events")
        router.add(.post, "/api/tests/:runId/events", maxBody: 1 << 20, "publish")
        router.add(.get, "/api/tests/stats", maxBody: 0, "stats")
        router.add(.get, "/api/tests/:runId", maxBody: 0, "run")
        router.add(.delete, "/api/tests/:runId", maxBody: 0, "deleteRun")
        router.add(.put, "/a/:b/:c/:d/:e", maxBody: 64, "four")
        router.add(.head, "/only-head", maxBody: 0, "onlyHead")
        router.add(.get, "/dir/", maxBody: 0, "dir")
        router.add(.post, "/upload", maxBody: 10, "upload")
        router.add(.put, "/upload", maxBody: 20, "replace")
        return router
    }

    func route(_ method: HTTPMethod, _ path: String, _ router: Router<String> = makeRouter()) -> Outcome {
        let input = bytes(path)
        return input.withUnsafeBytes { buffer in
            switch router.match(method: method, path: buffer) {
            case .found(let handler, let maxBody, let params):
                let values = (0 ..< params.count).map { i in
                    String(decoding: params.bytes(i, in: buffer), as: UTF8.self)
                }
                return .found(handler, maxBody: maxBody, params: values)
            case .notFound:
                return .notFound
            case .methodNotAllowed(let allow):
                return .methodNotAllowed(allow)
            }
        }
    }

    @Test("literal routes match exactly")
    func literals() {
        #expect(route(.get, "/") == .found("root", maxBody: 0, params: []))
        #expect(route(.get, "/health") == .found("health", maxBody: 0, params: []))
        #expect(route(.post, "/upload") == .found("upload", maxBody: 10, params: []))
        #expect(route(.put, "/upload") == .found("replace", maxBody: 20, params: []))
    }

    @Test(":name captures one non-empty segment, in order, as raw bytes")
    func params() {
        #expect(route(.get, "/api/tests/run-42/events") == .found("events", maxBody: 0, params: ["run-42"]))
        #expect(route(.post, "/api/tests/r%2F1/events") == .found("publish", maxBody: 1 << 20, params: ["r%2F1"]))
        #expect(route(.put, "/a/1/22/333/4444") == .found("four", maxBody: 64, params: ["1", "22", "333", "4444"]))
        #expect(route(.get, "/api/tests//events") == .notFound)
        #expect(route(.put, "/a/1//333/4444") == .notFound)
    }

    @Test("parameter ranges are offsets into the path buffer")
    func paramRanges() {
        let input = bytes("/api/tests/abc/events")
        input.withUnsafeBytes { buffer in
            guard case .found(_, _, let params) = Self.makeRouter().match(method: .get, path: buffer) else {
                Issue.record("no match")
                return
            }
            #expect(params.count == 1)
            #expect(params[0] == 11 ..< 14)
        }
    }

    @Test("more literal segments win over parameters, whatever the order added")
    func specificity() {
        #expect(route(.get, "/api/tests/stats") == .found("stats", maxBody: 0, params: []))
        #expect(route(.get, "/api/tests/other") == .found("run", maxBody: 0, params: ["other"]))
        // DELETE is not allowed on the literal "stats" route, but the parameter route takes it.
        #expect(route(.delete, "/api/tests/stats") == .found("deleteRun", maxBody: 0, params: ["stats"]))
    }

    @Test("unknown paths are 404")
    func notFound() {
        #expect(route(.get, "/nope") == .notFound)
        #expect(route(.get, "") == .notFound)
        #expect(route(.get, "*") == .notFound)
        #expect(route(.get, "health") == .notFound)
        #expect(route(.get, "/HEALTH") == .notFound)
    }

    @Test("a trailing slash is significant")
    func trailingSlash() {
        #expect(route(.get, "/health/") == .notFound)
        #expect(route(.get, "/dir/") == .found("dir", maxBody: 0, params: []))
        #expect(route(.get, "/dir") == .notFound)
        #expect(route(.get, "/api/tests/1/events/") == .notFound)
        #expect(route(.get, "//") == .notFound)
    }

    @Test("paths with more or fewer segments than the pattern do not match")
    func segmentCounts() {
        #expect(route(.get, "/health/extra") == .notFound)
        #expect(route(.get, "/api/tests/1/events/more") == .notFound)
        #expect(route(.get, "/api") == .notFound)
        #expect(route(.put, "/a/1/2/3") == .notFound)
        #expect(route(.put, "/a/1/2/3/4/5") == .notFound)
    }

    @Test("long paths are compared without trouble")
    func longPaths() {
        let long = "/" + String(repeating: "segment/", count: 500) + "end"
        #expect(route(.get, long) == .notFound)
        let id = String(repeating: "x", count: 4096)
        #expect(route(.get, "/api/tests/\(id)/events") == .found("events", maxBody: 0, params: [id]))
    }

    @Test("405 lists the allowed methods (RFC 9110 §15.5.6)")
    func methodNotAllowed() {
        #expect(route(.post, "/health") == .methodNotAllowed("GET, HEAD"))
        #expect(route(.delete, "/upload") == .methodNotAllowed("POST, PUT"))
        #expect(route(.put, "/api/tests/1/events") == .methodNotAllowed("GET, HEAD, POST"))
        #expect(route(.get, "/only-head") == .methodNotAllowed("HEAD"))
        #expect(route(.other, "/health") == .methodNotAllowed("GET, HEAD"))
    }

    @Test("HEAD falls back to the GET route (RFC 9110 §9.3.2), explicit HEAD wins")
    func headFallsBackToGet() {
        #expect(route(.head, "/health") == .found("health", maxBody: 0, params: []))
        #expect(route(.head, "/api/tests/7/events") == .found("events", maxBody: 0, params: ["7"]))
        #expect(route(.head, "/only-head") == .found("onlyHead", maxBody: 0, params: []))
        let router = Router<String>()
        router.add(.get, "/x", maxBody: 0, "get")
        router.add(.head, "/x", maxBody: 0, "head")
        #expect(route(.head, "/x", router) == .found("head", maxBody: 0, params: []))
        #expect(route(.post, "/x", router) == .methodNotAllowed("GET, HEAD"))
        #expect(route(.head, "/upload") == .methodNotAllowed("POST, PUT"))
    }

    @Test("an empty router finds nothing")
    func emptyRouter() {
        #expect(route(.get, "/", Router<String>()) == .notFound)
    }
}
