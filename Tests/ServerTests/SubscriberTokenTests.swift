import CShimCrypto
import Foundation
import Testing
@testable import Server

/// Builds an HS256 JWT (RFC 7519) for tests.
func makeJWT(secret: String, header: String = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}", payload: String) -> String {
    func b64url(_ d: [UInt8]) -> String {
        Data(d).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
    let signingInput = b64url(Array(header.utf8)) + "." + b64url(Array(payload.utf8))
    var mac = [UInt8](repeating: 0, count: 32)
    let key = Array(secret.utf8), msg = Array(signingInput.utf8)
    CShim_hmac_sha256(key, key.count, msg, msg.count, &mac)
    return signingInput + "." + b64url(mac)
}

@Suite("Subscriber tokens (HS256 JWT)")
struct SubscriberTokenTests {
    static let secret = "0123456789abcdef-secret"
    var future: Int { Int(Date().timeIntervalSince1970) + 3600 }

    func verify(_ token: String?, run: String = "r1") -> SubscriberToken.Refusal? {
        guard var t = token else { return SubscriberToken.verify(nil, runId: run, secret: Self.secret, now: Date().timeIntervalSince1970) }
        return t.withUTF8 { SubscriberToken.verify(UnsafeRawBufferPointer($0), runId: run, secret: Self.secret, now: Date().timeIntervalSince1970) }
    }

    @Test func validTokensGrantTheirRunsOrAll() {
        #expect(verify(makeJWT(secret: Self.secret, payload: "{\"exp\":\(future),\"runs\":[\"r0\",\"r1\"]}")) == nil)
        #expect(verify(makeJWT(secret: Self.secret, payload: "{\"exp\":\(future),\"runs\":[\"*\"]}"), run: "any") == nil)
    }

    @Test func refusals() {
        let good = makeJWT(secret: Self.secret, payload: "{\"exp\":\(future),\"runs\":[\"r1\"]}")
        #expect(verify(nil) == .missing)
        #expect(verify("abc") == .malformed)
        #expect(verify(good, run: "r2") == .outOfScope)
        #expect(verify(makeJWT(secret: "another-secret-123", payload: "{\"exp\":\(future),\"runs\":[\"r1\"]}")) == .badSignature)
        #expect(verify(makeJWT(secret: Self.secret, payload: "{\"exp\":1000,\"runs\":[\"r1\"]}")) == .expired)
        #expect(verify(makeJWT(secret: Self.secret, header: "{\"alg\":\"none\"}", payload: "{\"exp\":\(future),\"runs\":[\"r1\"]}")) == .badSignature)
        // altered payload, original signature
        let parts = good.split(separator: ".")
        let forged = makeJWT(secret: Self.secret, payload: "{\"exp\":\(future),\"runs\":[\"*\"]}").split(separator: ".")
        #expect(verify("\(parts[0]).\(forged[1]).\(parts[2])") == .badSignature)
    }

    /// RFC 7519 §4.1.5: a token is not to be accepted before its `nbf` (seconds since the
    /// epoch). It is optional; when present it must be a non-negative integer, as `exp` must.
    @Test func notBeforeInTheFutureIsRefusedAndAMalformedOneIsInvalid() {
        let now = Int(Date().timeIntervalSince1970)
        func token(nbf: String) -> String { makeJWT(secret: Self.secret, payload: "{\"exp\":\(future),\"nbf\":\(nbf),\"runs\":[\"r1\"]}") }
        let early = verify(token(nbf: "\(now + 600)"))
        #expect(early == .notYetValid)
        #expect(early?.code == "token_not_yet_valid" && early?.status == 401 && early?.message.contains("nbf") == true)
        #expect(verify(token(nbf: "\(now + 600)"), run: "r2")?.code == "token_not_yet_valid") // refused before its scope is looked at
        #expect(verify(token(nbf: "\(now - 600)")) == nil)
        #expect(verify(token(nbf: "\(now)")) == nil) // "after or equal to"
        #expect(verify(token(nbf: "0")) == nil)
        for bad in ["\"soon\"", "-5", "1.5", "1e12", "null", "[1]", "99999999999999999999"] {
            #expect(verify(token(nbf: bad)) == .malformed, "nbf \(bad)")
        }
        // An expired token is expired, whatever its nbf.
        #expect(verify(makeJWT(secret: Self.secret, payload: "{\"exp\":1000,\"nbf\":\(now + 600),\"runs\":[\"r1\"]}")) == .expired)
    }

    /// The same refusal over sockets: the upgrade answers 401 with the code, and a subscribe
    /// op gets it as an error (the socket stays open).
    @Test func aTokenNotYetValidIsRefusedOnUpgradeAndSubscribe() throws {
        let s = try TestServer(["TOKEN_SECRET": Self.secret]); defer { s.stop() }
        let early = makeJWT(secret: Self.secret, payload: "{\"exp\":\(future),\"nbf\":\(future - 60),\"runs\":[\"t1\"]}")
        let ready = makeJWT(secret: Self.secret, payload: "{\"exp\":\(future),\"nbf\":\(future - 7200),\"runs\":[\"t1\"]}")
        let single = try TestClient(port: s.port)
        try single.send("GET /api/tests/t1/events?token=\(early) HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        + "Sec-WebSocket-Key: \(TestClient.key)\r\nSec-WebSocket-Version: 13\r\n\r\n")
        let refused = try single.response()
        #expect(refused.status == 401)
        #expect((refused.json["error"] as? [String: Any])?["code"] as? String == "token_not_yet_valid", "\(refused.text)")
        #expect(try s.get("/api/tests/t1/events?token=\(early)").status == 401)
        let mux = try s.subscribeMux([])
        try mux.sendJSON("{\"op\":\"subscribe\",\"runId\":\"t1\",\"token\":\"\(early)\"}")
        let error = try mux.nextJSON()
        #expect(error["type"] as? String == "error" && error["code"] as? String == "token_not_yet_valid", "\(error)")
        try mux.sendJSON("{\"op\":\"subscribe\",\"runId\":\"t1\",\"token\":\"\(ready)\"}")
        #expect(try mux.nextJSON()["type"] as? String == "subscribed")
        let handshakeToken = try TestClient(port: s.port)
        #expect(try handshakeToken.handshake(path: "/api/ws?token=\(early)").status == 101)
        try handshakeToken.sendJSON("{\"op\":\"subscribe\",\"runId\":\"t1\"}")
        #expect(try handshakeToken.nextJSON()["code"] as? String == "token_not_yet_valid")
    }

    @Test func socketsAndHistoryNeedATokenWhenConfigured() throws {
        let s = try TestServer(["TOKEN_SECRET": Self.secret]); defer { s.stop() }
        let token = makeJWT(secret: Self.secret, payload: "{\"exp\":\(future),\"runs\":[\"t1\"]}")
        // single-run socket: 401 without, 403 out of scope, 101 with
        let none = try TestClient(port: s.port)
        #expect(try none.handshake(path: "/api/tests/t1/events").status == 401)
        let other = try TestClient(port: s.port)
        #expect(try other.handshake(path: "/api/tests/t2/events?token=\(token)").status == 403)
        let ok = try s.subscribeRun("t1", query: "?token=\(token)")
        #expect(try ok.nextJSON()["type"] as? String == "subscribed")
        // multiplexed: the subscribe op needs one (its own, or the handshake's)
        let mux = try s.subscribeMux([])
        try mux.sendJSON("{\"op\":\"subscribe\",\"runId\":\"t1\"}")
        #expect(try mux.nextJSON()["code"] as? String == "token_required")
        try mux.sendJSON("{\"op\":\"subscribe\",\"runId\":\"t1\",\"token\":\"\(token)\"}")
        #expect(try mux.nextJSON()["type"] as? String == "subscribed")
        let mux2 = try TestClient(port: s.port)
        #expect(try mux2.handshake(path: "/api/ws?token=\(token)").status == 101)
        try mux2.sendJSON("{\"op\":\"subscribe\",\"runId\":\"t1\"}")
        #expect(try mux2.nextJSON()["type"] as? String == "subscribed")
        try mux2.sendJSON("{\"op\":\"subscribe\",\"runId\":\"t9\"}")
        #expect(try mux2.nextJSON()["code"] as? String == "token_out_of_scope")
        // history
        _ = try s.publish("t1", "{}")
        #expect(try s.get("/api/tests/t1/events").status == 401)
        #expect(try s.get("/api/tests/t1/events?token=\(token)").status == 200)
    }
}
