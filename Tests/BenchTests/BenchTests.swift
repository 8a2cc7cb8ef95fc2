import Foundation
import Logging
import Testing
@testable import runwire_bench
@testable import Server

@Suite("runwire-bench: histogram, parsing, fan-out end to end")
struct BenchTests {
    @Test func histogramPercentilesAreWithinItsPrecision() {
        var h = Histogram()
        for v in 1...10_000 { h.record(UInt64(v)) }
        #expect(h.total == 10_000 && h.max == 10_000)
        for (q, exact) in [(0.5, 5000.0), (0.9, 9000.0), (0.99, 9900.0)] {
            let got = Double(h.percentile(q))
            #expect(abs(got - exact) / exact < 1.0 / 16, "p\(q) = \(got), expected ~\(exact)")
        }
        #expect(h.percentile(1.0) == 10_000)
        var empty = Histogram()
        #expect(empty.percentile(0.5) == 0)
        empty.merge(h)
        #expect(empty.total == 10_000)
    }

    @Test func histogramBucketsAreMonotonic() {
        var last = -1
        for v in [0, 1, 31, 32, 33, 63, 64, 1000, 1 << 20, 1 << 40] as [UInt64] {
            let i = Histogram.index(v)
            #expect(i > last)
            #expect(Histogram.lowest(i) <= v)
            last = i
        }
    }

    @Test func reportDrawsOneBarPerRunAndPercentile() {
        let lines = """
        {"label":"runwire","p50us":"1500","p90us":"2400","p99us":"9000","p999us":"20000","maxus":"25000","deliveriesPerSecond":"10000"}
        not json
        {"label":"nchan <peer>","p50us":"1700","p90us":"3000","p99us":"7900","p999us":"18000","maxus":"30000"}
        """
        let runs = ReportPage.runs(fromJSONLines: lines)
        #expect(runs.map(\.label) == ["runwire", "nchan <peer>"])
        let page = ReportPage.html(runs, title: "t")
        #expect(page.components(separatedBy: "<rect").count - 1 == 10) // 2 runs × 5 percentiles
        #expect(page.contains("nchan &lt;peer&gt;") && !page.contains("nchan <peer>"))
        #expect(page.contains("9.00 ms") && page.contains("deliveriesPerSecond 10000"))
    }

    @Test func targetsMustBeLoopback() throws {
        #expect(try loopbackTarget("ws://127.0.0.2:3001/x", scheme: "ws", option: "--url").host == "127.0.0.2")
        #expect(try loopbackTarget("http://localhost:80/", scheme: "http", option: "--url").port == 80)
        for bad in ["ws://10.0.0.1:3001/", "ws://example.com:80/", "http://127.0.0.1:1/", "ws://127.0.0.1/"] {
            #expect(throws: (any Error).self) { try loopbackTarget(bad, scheme: "ws", option: "--url") }
        }
    }

    @Test func urlTemplatesAndNumberScanning() {
        let u = WSURL("ws://127.0.0.1:3001/api/tests/{run}/events")
        #expect(u?.host == "127.0.0.1" && u?.port == 3001 && u?.path(run: 7) == "/api/tests/run-7/events")
        #expect(WSURL("http://x:1/") == nil && WSURL("ws://nohost/") == nil)
        let msg = Array("{\"type\":\"event\",\"seq\":12,\"data\":{\"t\":1700000000123456,\"i\":11}}".utf8)
        msg.withUnsafeBytes { b in
            #expect(FanoutScenario.number(after: "\"t\":", in: b) == 1_700_000_000_123_456)
            #expect(FanoutScenario.number(after: "\"seq\":", in: b) == 12)
            #expect(FanoutScenario.number(after: "\"i\":", in: b) == 11)
            #expect(FanoutScenario.number(after: "\"zzz\":", in: b) == nil)
        }
    }

    /// Runs `body` with a real server on a free port (its own thread), stopped afterwards.
    func withServer(_ body: (RunwireServer) throws -> Void) throws {
        let storage = NSTemporaryDirectory() + "runwire-bench-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: storage) }
        let config = try Config.load(dotenv: nil, environment: ["PORT": "0", "STORAGE_DIR": storage], flags: [:]).get()
        let server = RunwireServer(config: config, logger: Logger(label: "t", factory: { _ in SwiftLogNoOpLogHandler() }))
        try server.start()
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread { server.run(); done.signal() }
        defer { server.stop(); _ = done.wait(timeout: .now() + 10) }
        try body(server)
    }

    @Test func httpScenarioCountsAnsweredRequests() throws {
        try withServer { server in
            let r = HTTPScenario(host: "127.0.0.1", port: server.port, path: "/health", conns: 4, duration: 0.5).run()
            #expect((Int(r["requests"] ?? "") ?? 0) > 10)
            #expect(r["errors"] == "0")
            let bad = HTTPScenario(host: "127.0.0.1", port: server.port, path: "/nope", conns: 1, duration: 0.3).run()
            #expect(bad["requests"] == "0" && (Int(bad["errors"] ?? "") ?? 0) > 0) // 404s are counted as errors
        }
    }

    @Test func fanoutDeliversEveryEventOnceInOrderAgainstARealServer() throws {
        try withServer { server in
        let o = FanoutScenario.Options(
            subscribeURL: WSURL("ws://127.0.0.1:\(server.port)/api/tests/{run}/events")!,
            publishHost: "127.0.0.1", publishPort: server.port, publishPath: "/api/tests/{run}/events",
            conns: 50, runs: 2, rate: 100, duration: 1, size: 100, publishers: 2, window: 16,
            sources: [], publish: true, runPrefix: "e2e-")
        let r = FanoutScenario(o).run()
        #expect(r["subscribers"] == "50")
        let published = Int(r["published"] ?? "") ?? 0
        #expect(published >= 90)
        #expect(r["expected"] == "\(published * 25)") // 25 subscribers per run
        #expect(r["delivered"] == r["expected"])
        #expect(r["missing"] == "0" && r["duplicates"] == "0")
        #expect(r["publishErrors"] == "0")
        }
    }
}
