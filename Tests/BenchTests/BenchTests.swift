import ArgumentParser
import Foundation
import Logging
import RedisServerSupport
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

    @Test func histogramsMergeExactlyThroughTheirEncodedBuckets() throws {
        // Two workers' latencies, very different: merged percentiles must be those of all values
        // recorded in one histogram (averaging percentiles would not give that).
        var a = Histogram(), b = Histogram(), all = Histogram()
        for v in 1...1000 as ClosedRange<UInt64> { a.record(v); all.record(v) }
        for v in stride(from: 50_000 as UInt64, through: 90_000, by: 10) { b.record(v); all.record(v) }
        var merged = Histogram()
        for h in [a, b] { merged.merge(try #require(Histogram(encodedBuckets: h.encodedBuckets, max: h.max))) }
        #expect(merged.total == all.total && merged.max == all.max)
        #expect(merged.encodedBuckets == all.encodedBuckets)
        for q in [0.1, 0.5, 0.9, 0.99, 0.999] { #expect(merged.percentile(q) == all.percentile(q)) }
        #expect(Histogram(encodedBuckets: "", max: 0)?.total == 0)
        for bad in ["1", "x:1", "1:y", "99999:1", "1:2:3"] { #expect(Histogram(encodedBuckets: bad, max: 0) == nil) }
    }

    @Test func fanoutMergeSumsWorkersAndComputesExpectedPerRun() {
        var a = Histogram(), b = Histogram()
        a.record(10); b.record(5000) // 10 µs: below 32 every value has its own bucket
        let w0 = ["subscribers": "3", "subscribersPerRun": "2,1", "publishedPerRun": "10,20", "delivered": "40", "publishSeconds": "2",
                  "published": "30", "keptRate": "true", "histogram": a.encodedBuckets, "maxus": "10"]
        let w1 = ["subscribers": "2", "subscribersPerRun": "1,1", "publishedPerRun": "0,0", "delivered": "30", "publishSeconds": "0",
                  "histogram": b.encodedBuckets, "maxus": "5000"]
        let r = FanoutFleet.merge([w0, w1], runs: 2, publishing: true)
        #expect(r["expected"] == "\(10 * 3 + 20 * 2)" && r["delivered"] == "70" && r["subscribers"] == "5")
        #expect(r["deliveriesPerSecond"] == "35" && r["published"] == "30" && r["keptRate"] == "true")
        #expect(r["p50us"] == "10" && r["maxus"] == "5000" && r["workersReported"] == "2")
        let lost = FanoutFleet.merge([nil, w1], runs: 2, publishing: true)
        #expect(lost["workersReported"] == "1" && lost["expected"] == "-1") // no publisher result: nothing to compare
    }

    @Test func workerSharesAndSources() throws {
        #expect((0..<3).map { WorkerRole.share(10, index: $0, count: 3) } == [4, 3, 3])
        #expect(WorkerRole.sources(["a", "b", "c", "d"], index: 1, count: 2) == ["b", "d"])
        #expect(WorkerRole.sources(["a"], index: 1, count: 2) == ["a"])
        #expect(WorkerRole("1/2") == WorkerRole("1/2") && WorkerRole("2/2") == nil && WorkerRole("x") == nil)
        #expect(throws: (any Error).self) { try processCount(nil, conns: 19_000 * 64 + 1) }
        #expect(try processCount(nil, conns: 30_000) == 2)
        #expect(try processCount(nil, conns: 100) == 1)
        #expect(throws: (any Error).self) { try processCount(1, conns: 30_000) }
    }

    @Test func jsonResultLinesEscapeValuesSuchAsFilePaths() throws {
        #expect(jsonLine("http", ["p50us": "12", "errors": "0"]) == #"{"scenario":"http","errors":0,"p50us":12}"#)
        let path = "/tmp/a \"quoted\" dir\\x\n.log"
        let line = jsonLine("gzip", ["file": path, "bytes": "10"])
        #expect(!line.contains("\n"))
        let o = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(o["file"] as? String == path && o["scenario"] as? String == "gzip" && (o["bytes"] as? NSNumber)?.intValue == 10)
        // A file named like a number is still text.
        #expect(jsonLine("gzip", ["file": "123", "ratio": "0.1234"]) == #"{"scenario":"gzip","file":"123","ratio":0.1234}"#)
    }

    /// Values get their JSON types by what they spell (RFC 8259 §6 numbers only), and the
    /// parent reads a worker's line back into exactly the text it was written from.
    @Test func jsonResultLinesTypeNumbersFlagsAndTextAndReadBackAsWritten() throws {
        let result = ["delivered": "1200", "expected": "-1", "publishSeconds": "0.50012", "small": "1e-05", "seconds": "1.000",
                      "keptRate": "true", "ok": "false", "bytesPerConnection": "n/a", "MBps": "inf",
                      "subscribersPerRun": "5", "publishedPerRun": "3,4", "histogram": "3:5,40:1", "reason": "0x10",
                      "lead": "007", "dot": "1.", "plus": "+1", "empty": "", "word": "True"]
        let line = jsonLine("fanout", result)
        #expect(line == #"{"scenario":"fanout","MBps":null,"bytesPerConnection":null,"delivered":1200,"dot":"1.","empty":"","#
                + #""expected":-1,"histogram":"3:5,40:1","keptRate":true,"lead":"007","ok":false,"plus":"+1","#
                + #""publishSeconds":0.50012,"publishedPerRun":"3,4","reason":"0x10","seconds":1.000,"small":1e-05,"#
                + #""subscribersPerRun":"5","word":"True"}"#)
        let back = try #require(WorkerFleet.parseResult(line))
        // Back as written, but for what has no JSON number (inf: null, read as n/a) and the
        // spelling of a number (1.000 is the number 1).
        #expect(back == result.merging(["scenario": "fanout", "MBps": "n/a", "seconds": back["seconds"] ?? "?"]) { $1 })
        #expect(Double(back["seconds"] ?? "") == 1)
    }

    /// `--json` lines for jq and scripts: counts, rates, latencies and sizes are JSON numbers,
    /// flags JSON booleans, text strings. Checked on lines the built executable printed: one
    /// process (`http`, `fanout`) and two worker processes whose JSON the parent merged.
    @Test func jsonLinesOfTheExecutableHaveNumbersAndBooleans() throws {
        func isBool(_ v: Any?) -> Bool { (v as? NSNumber).map { String(cString: $0.objCType) == "c" } ?? false }
        func isNumber(_ v: Any?) -> Bool { v is NSNumber && !isBool(v) }
        func number(_ o: [String: Any], _ k: String) -> Double { isNumber(o[k]) ? (o[k] as! NSNumber).doubleValue : -1 }
        func run(_ args: [String]) throws -> [String: Any] {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: Self.benchBinary)
            p.arguments = args + ["--json"]
            let out = Pipe()
            p.standardOutput = out
            try p.run()
            let data = out.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            let last = String(decoding: data, as: UTF8.self).split(separator: "\n").last.map(String.init) ?? ""
            guard p.terminationStatus == 0, let o = try JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any] else {
                throw BenchRunFailure(description: "runwire-bench \(args.joined(separator: " ")): status \(p.terminationStatus), last line \(last)")
            }
            return o
        }
        try withServer { server in
            let http = try run(["http", "--url", "http://127.0.0.1:\(server.port)/health", "--conns", "2", "--duration", "0.3"])
            #expect(http["scenario"] as? String == "http")
            #expect(number(http, "requests") > 0 && number(http, "errors") == 0 && number(http, "requestsPerSecond") > 0, "\(http)")
            for k in ["connections", "closedEarly", "p50us", "p99us", "maxus"] { #expect(isNumber(http[k]), "\(k): \(http[k] ?? "nil")") }
            let ws = "ws://127.0.0.1:\(server.port)/api/tests/{run}/events", pub = "http://127.0.0.1:\(server.port)/api/tests/{run}/events"
            for procs in ["1", "2"] {
                let f = try run(["fanout", "--url", ws, "--publish-url", pub, "--conns", "20", "--runs", "2", "--rate", "50",
                                 "--duration", "0.5", "--procs", procs, "--run-prefix", "json\(procs)-\(UUID().uuidString.prefix(8))-"])
                #expect(f["scenario"] as? String == "fanout")
                #expect(number(f, "delivered") > 0 && number(f, "delivered") == number(f, "expected"), "\(f)")
                #expect(number(f, "subscribers") == 20 && number(f, "missing") == 0 && number(f, "duplicates") == 0)
                for k in ["published", "publishRate", "targetRate", "deliveriesPerSecond", "p50us", "p90us", "p99us", "p999us", "maxus"] {
                    #expect(isNumber(f[k]), "--procs \(procs) \(k): \(f[k] ?? "nil")")
                }
                #expect(isBool(f["keptRate"]), "--procs \(procs) keptRate: \(f["keptRate"] ?? "nil")")
                if procs == "2" { #expect(number(f, "workers") == 2 && number(f, "workersReported") == 2 && number(f, "workersFailed") == 0) }
            }
        }
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
        // Lines as `--json` writes them now (numbers), and as perf/compare relabels them.
        let typed = ReportPage.runs(fromJSONLines: jsonLine("fanout", ["p50us": "1500", "p90us": "2400", "p99us": "9000", "p999us": "20000",
                                                                       "maxus": "25000", "deliveriesPerSecond": "12000", "keptRate": "true"]))
        #expect(typed.map(\.label) == ["fanout"] && typed.first?.values.map(\.1) == [1500, 2400, 9000, 20000, 25000])
        #expect(typed.first?.extra == "deliveriesPerSecond 12000")
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
    func withServer(environment: [String: String] = [:], _ body: (RunwireServer) throws -> Void) throws {
        let storage = NSTemporaryDirectory() + "runwire-bench-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: storage) }
        let env = ["PORT": "0", "STORAGE_DIR": storage].merging(environment) { $1 }
        let config = try Config.load(dotenv: nil, environment: env, flags: [:]).get()
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

    /// The built `runwire-bench` executable (worker processes are this binary re-executed).
    static var benchBinary: String { builtExecutable("runwire-bench") }

    @Test func fanoutOverTwoWorkerProcessesDeliversEveryEventOnce() throws {
        try withServer { server in
            let f = try Fanout.parse([
                "--url", "ws://127.0.0.1:\(server.port)/api/tests/{run}/events",
                "--publish-url", "http://127.0.0.1:\(server.port)/api/tests/{run}/events",
                "--conns", "40", "--runs", "2", "--rate", "50", "--duration", "1", "--procs", "2",
                "--src", "127.0.0.2,127.0.0.3", "--run-prefix", "procs-\(UUID().uuidString.prefix(8))-",
            ])
            let r = try f.results(executable: Self.benchBinary)
            #expect(r["workers"] == "2" && r["workersReported"] == "2" && r["workersFailed"] == "0")
            #expect(r["subscribers"] == "40")
            let published = Int(r["published"] ?? "") ?? 0
            #expect(published >= 45 && published <= 51)
            #expect(r["expected"] == "\(published * 20)") // each event goes to the 20 subscribers of its run
            #expect(r["delivered"] == r["expected"])
            #expect(r["missing"] == "0" && r["duplicates"] == "0" && r["publishErrors"] == "0")
            #expect((Int(r["p50us"] ?? "") ?? 0) > 0)
        }
    }

    @Test func idleOverTwoWorkerProcessesHoldsEveryConnection() throws {
        try withServer { server in
            let i = try Idle.parse(["--url", "ws://127.0.0.1:\(server.port)/api/tests/{run}/events", "--conns", "200",
                                    "--runs", "4", "--procs", "2", "--hold", "0", "--server-pid", "\(getpid())"])
            let r = try i.results(executable: Self.benchBinary)
            #expect(r["workersReported"] == "2" && r["connected"] == "200" && r["failed"] == "0")
            #expect(r["bytesPerConnection"] != nil)
        }
    }

    @Test func clusterSeesEveryEventOnceInSeqOrderOnAnInstanceListedTwice() throws {
        try withServer { server in
            let ws = "ws://127.0.0.1:\(server.port)/api/tests/{run}/events"
            let http = "http://127.0.0.1:\(server.port)/api/tests/{run}/events"
            let c = try Cluster.parse(["--url", "\(ws),\(ws)", "--publish-url", "\(http),\(http)", "--conns", "30",
                                       "--runs", "3", "--rate", "300", "--duration", "0.5", "--drain", "10",
                                       "--run-prefix", "cl-\(UUID().uuidString.prefix(8))-"])
            let r = try c.results()
            let acknowledged = Int(r["acknowledged"] ?? "") ?? 0
            #expect(acknowledged >= 100)
            #expect(r["published"] == "\(acknowledged)")
            #expect(r["expected"] == "\(acknowledged * 10)") // 30 subscribers over 3 runs, events spread evenly
            #expect(r["delivered"] == r["expected"])
            for k in ["missing", "duplicates", "outOfOrder", "gaps", "mismatched", "unexpected", "seqConflicts", "publishErrors"] {
                #expect(r[k] == "0", "\(k) = \(r[k] ?? "nil")")
            }
            #expect(r["ok"] == "true")
        }
    }

    /// True once `GET path` answers 2xx (bounded: polls for at most `timeout` seconds).
    func becomesReady(port: Int, path: String = "/health/ready", timeout: Double = 10) -> Bool {
        let end = Date().addingTimeInterval(timeout)
        while Date() < end {
            let r = HTTPScenario(host: "127.0.0.1", port: port, path: path, conns: 1, duration: 0.05).run()
            if (Int(r["requests"] ?? "") ?? 0) > 0 { return true }
        }
        return false
    }

    @Test func clusterSeesEveryEventOnceInSeqOrderAcrossTwoInstancesSharingRedis() throws {
        let redis = try RedisServer()
        defer { redis.stop() }
        try withServer(environment: ["REDIS_URL": redis.url]) { a in
            try withServer(environment: ["REDIS_URL": redis.url]) { b in
                #expect(becomesReady(port: a.port) && becomesReady(port: b.port))
                let ws = [a.port, b.port].map { "ws://127.0.0.1:\($0)/api/tests/{run}/events" }.joined(separator: ",")
                let http = [a.port, b.port].map { "http://127.0.0.1:\($0)/api/tests/{run}/events" }.joined(separator: ",")
                let c = try Cluster.parse(["--url", ws, "--publish-url", http, "--conns", "20", "--runs", "2", "--rate", "200",
                                           "--duration", "0.5", "--drain", "10", "--run-prefix", "clr-\(UUID().uuidString.prefix(8))-"])
                let r = try c.results()
                let acknowledged = Int(r["acknowledged"] ?? "") ?? 0
                #expect(acknowledged >= 80 && r["published"] == "\(acknowledged)")
                #expect(r["expected"] == "\(acknowledged * 10)" && r["delivered"] == r["expected"])
                for k in ["missing", "duplicates", "outOfOrder", "gaps", "mismatched", "unexpected", "seqConflicts", "publishErrors"] {
                    #expect(r[k] == "0", "\(k) = \(r[k] ?? "nil")")
                }
                #expect(r["ok"] == "true")
            }
        }
    }

    @Test func redisRTTTimesEachKindThroughTheServersRedisClientAndNamesWhatWentWrong() throws {
        let redis = try RedisServer()
        defer { redis.stop() }
        let address = "127.0.0.1:\(redis.port)"
        for interval in ["0", "2"] {
            let r = try RedisRTT.parse(["--redis", address, "--interval", interval, "--samples", "20"]).results()
            for k in ["ping", "evalNoop", "publish"] {
                let p50 = Int(r[k + "P50us"] ?? "") ?? 0, p99 = Int(r[k + "P99us"] ?? "") ?? 0
                #expect(p50 > 0 && p50 <= p99, "\(k) at \(interval) ms: \(r)")
            }
        }
        #expect(try redis.cli(["EXISTS", "rw:{rtt}:meta", "rw:{rtt}:hist"]) == "0", "cleans up after itself")
        // The publish script failing (its key of the wrong type), Redis not there, a
        // non-loopback address: an error saying so.
        try redis.cli(["SET", "rw:{rtt}:meta", "not a hash"])
        do {
            _ = try RedisRTT.parse(["--redis", address, "--samples", "2"]).results()
            Issue.record("no error from a failing script")
        } catch let e as RedisRTTFailure {
            #expect(e.description.contains("WRONGTYPE"), "\(e)")
        }
        do {
            _ = try RedisRTT.parse(["--redis", "127.0.0.1:\(try RedisServer.freePort())", "--samples", "2"]).results()
            Issue.record("no error without a Redis")
        } catch let e as RedisRTTFailure {
            #expect(e.description.contains("cannot connect"), "\(e)")
        }
        #expect(throws: ValidationError.self) { try RedisRTT.parse(["--redis", "10.0.0.1:6379"]).results() }
    }

    @Test func clusterCountsEveryKindOfViolation() {
        let u = WSURL("ws://127.0.0.1:1/{run}")!
        let s = ClusterScenario(.init(subscribeURLs: [u], publishURLs: [u], conns: 2, runs: 1, rate: 1, duration: 1, size: 0,
                                      publishers: 1, window: 1, sources: [], runPrefix: "t", drain: 0))
        let subs = (0..<2).map { k in
            let c = ClientSocket(fd: -1, loop: s.loop, delegate: s, host: "h", path: "/")
            c.id = k
            return c
        }
        func say(_ c: ClientSocket, _ text: String) { Array(text.utf8).withUnsafeBytes { s.message(c, $0) } }
        func event(_ c: ClientSocket, seq: Int, i: Int) { say(c, "{\"type\":\"event\",\"runId\":\"t0\",\"seq\":\(seq),\"data\":{\"t\":1,\"i\":\(i)}}") }
        for c in subs { say(c, "{\"type\":\"subscribed\",\"runId\":\"t0\",\"seq\":0}") }
        // Three publishes acknowledged as seq 1, 2, 3; a fourth answered with seq 3 again.
        s.inFlight = [[(0, 0), (0, 1), (0, 2), (0, 3)]]
        s.sent = 4
        for seq in [1, 2, 3, 3] { Array("{\"first\":\(seq),\"last\":\(seq)}".utf8).withUnsafeBytes { s.answered(slot: 0, ok: true, body: $0) } }
        // Subscriber 0 sees all three in order, then an unacknowledged seq 7.
        for seq in 1...3 { event(subs[0], seq: seq, i: seq - 1) }
        event(subs[0], seq: 7, i: 6)
        // Subscriber 1: seq 2, then 1 under another event (out of order and mismatched), 2 again,
        // and never 3; then a gap notice.
        event(subs[1], seq: 2, i: 1)
        event(subs[1], seq: 1, i: 9)
        event(subs[1], seq: 2, i: 1)
        say(subs[1], "{\"type\":\"gap\",\"runId\":\"t0\",\"from\":3,\"to\":3}")
        let r = s.report()
        #expect(r["subscribers"] == "2" && r["expected"] == "6" && r["delivered"] == "7")
        #expect(r["missing"] == "1" && r["duplicates"] == "1" && r["outOfOrder"] == "1")
        #expect(r["mismatched"] == "1" && r["unexpected"] == "1" && r["gaps"] == "1" && r["seqConflicts"] == "1")
        #expect(r["unanswered"] == "0" && r["unconfirmed"] == "0")
        #expect(r["ok"] == "false")
    }
}

/// A bench executable run that did not end with a JSON line.
struct BenchRunFailure: Error, CustomStringConvertible {
    let description: String
}
