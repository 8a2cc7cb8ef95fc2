import Foundation
import Testing
@testable import Server

@Suite("runwire as a process")
struct ProcessTests {
    @Test func sigtermStopsCleanlyWithExitZero() throws {
        let p = try ServerProcess(["--port", "0"])
        try p.waitListening()
        let c = try TestClient(port: p.port)
        try c.send("GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(try c.response().status == 200)
        p.stopAndCheck()
        #expect(p.log.contains("stopped"))
        #expect(try c.waitForClose(timeout: 2))
    }

    @Test func helpListsEverySetting() throws {
        let out = try runProcess(ServerProcess.binary, ["serve", "--help"], timeout: 30)
        #expect(out.status == 0)
        let text = out.text.split(whereSeparator: { $0 == " " || $0 == "\n" }).joined(separator: " ") // help wraps lines
        for setting in Config.settings {
            #expect(text.contains("--\(setting.flag)"), "--help lacks --\(setting.flag)")
            #expect(text.contains("env \(setting.name)"), "--help lacks \(setting.name)")
        }
        #expect(out.text.contains("--insecure"))
    }

    @Test func badSettingStopsStartUpWithOneLineNamingIt() throws {
        let p = try ServerProcess(["--port", "abc"])
        #expect(p.waitExit() == 2)
        #expect(p.log == "runwire: invalid PORT: 'abc' is not a port number (0-65535)\n")
        let q = try ServerProcess([], env: ["CLEANUP_INTERVAL_HOURS": "soon"])
        #expect(q.waitExit() == 2)
        #expect(q.log.contains("invalid CLEANUP_INTERVAL_HOURS"))
    }

    @Test func protectedModeRefusesPublicBindUnlessInsecure() throws {
        let p = try ServerProcess(["--host", "0.0.0.0", "--port", "0"])
        #expect(p.waitExit() == 2)
        #expect(p.log.contains("protected mode"))
        let q = try ServerProcess(["--host", "0.0.0.0", "--port", "0", "--insecure"])
        try q.waitListening()
        q.stopAndCheck()
        let r = try ServerProcess(["--host", "0.0.0.0", "--port", "0"], env: ["API_KEYS": "k1,k2"])
        try r.waitListening()
        #expect(!r.log.contains("k1"), "secrets must never be logged")
        r.stopAndCheck()
    }

    @Test func dotenvInWorkingDirectoryIsReadAndFlagsWin() throws {
        let dir = NSTemporaryDirectory() + "runwire-env-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "# comment\nLOG_FORMAT=json\nPORT=1\n".write(toFile: dir + "/.env", atomically: true, encoding: .utf8)
        let p = try ServerProcess(["--port", "0"], cwd: dir)
        try p.waitListening()
        #expect(p.log.hasPrefix("{\"time\":"), "LOG_FORMAT from .env gives JSON lines: \(p.log)")
        p.stopAndCheck()
    }

    @Test func descriptorExhaustionNeitherCrashesNorSpinsAndRecovers() throws {
        let p = try ServerProcess(["--port", "0"], shellPrefix: "ulimit -n 64;")
        try p.waitListening()
        // The first connection is accepted while descriptors are free.
        let first = try TestClient(port: p.port)
        try first.send("GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(try first.response().status == 200)
        var clients: [TestClient] = []
        for _ in 0..<200 { clients.append(try TestClient(port: p.port)) } // the kernel backlog takes them all
        // Exhausted: the server still answers its existing connection...
        #expect(try eventually { try p.isExhausted(using: first) })
        // ...and does not spin: at most 0.3 CPU seconds over one wall second.
        let cpu0 = p.cpuSeconds, t0 = Date()
        try first.send("GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(try first.response().status == 200)
        _ = try? first.fill(timeout: 1) // nothing arrives: waits the full second
        let used = p.cpuSeconds - cpu0
        #expect(used < 0.3 * max(1, Date().timeIntervalSince(t0)), "CPU \(used) s while descriptors are exhausted")
        clients.removeAll() // closing frees the server's descriptors
        #expect(eventually(timeout: 10) { (try? TestClient(port: p.port)).map { c in
            (try? c.send("GET /health HTTP/1.1\r\nHost: t\r\n\r\n")) != nil && (try? c.response(timeout: 2).status) == 200 } ?? false })
        p.stopAndCheck()
    }
}

extension ServerProcess {
    /// Reads /metrics over `client` and tells whether accept has hit the descriptor limit.
    func isExhausted(using client: TestClient) throws -> Bool {
        try client.send("GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n")
        let r = try client.response()
        let line = r.text.split(separator: "\n").first { $0.hasPrefix("runwire_accept_exhausted_total ") }
        return (line.flatMap { Int($0.split(separator: " ")[1]) } ?? 0) > 0
    }
}
