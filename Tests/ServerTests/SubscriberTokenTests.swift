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
