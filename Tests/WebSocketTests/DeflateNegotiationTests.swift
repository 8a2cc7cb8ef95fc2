import Testing
@testable import WebSocket

/// RFC 7692 §7.1 permessage-deflate negotiation.
@Suite("permessage-deflate negotiation (RFC 7692 §7.1)")
struct DeflateNegotiationTests {
    /// RFC 7692 defaults on our side: no forced no-context-takeover, 15-bit windows.
    static let plain = DeflatePolicy(serverNoContextTakeover: false, clientNoContextTakeover: false)

    static func negotiate(_ header: String, _ policy: DeflatePolicy = plain) -> (DeflateConfig, String)? {
        Array(header.utf8).withUnsafeBytes { raw in
            PerMessageDeflate.negotiate(offer: raw, policy: policy).map { ($0.0, $0.responseHeaderValue) }
        }
    }

    @Test("§7.1 plain permessage-deflate is accepted as is")
    func plainOffer() {
        let r = Self.negotiate("permessage-deflate")
        #expect(r?.0 == DeflateConfig())
        #expect(r?.1 == "permessage-deflate")
        #expect(Self.negotiate("PerMessage-Deflate")?.1 == "permessage-deflate")
    }

    @Test("§7.1.2.2 client_max_window_bits without a value: we may limit the client")
    func clientMaxWindowBits() {
        #expect(Self.negotiate("permessage-deflate; client_max_window_bits")?.1 == "permessage-deflate")
        let limited = DeflatePolicy(serverNoContextTakeover: false, clientNoContextTakeover: false, clientMaxWindowBits: 10)
        let r = Self.negotiate("permessage-deflate; client_max_window_bits", limited)
        #expect(r?.1 == "permessage-deflate; client_max_window_bits=10")
        #expect(r?.0.clientMaxWindowBits == 10)
        #expect(Self.negotiate("permessage-deflate; client_max_window_bits=12")?.1 == "permessage-deflate; client_max_window_bits=12")
        // Without the parameter in the offer the response must not carry it.
        #expect(Self.negotiate("permessage-deflate", limited)?.1 == "permessage-deflate")
    }

    @Test("§7.1.1 no-context-takeover parameters, offered or added by policy")
    func noContextTakeover() {
        let r = Self.negotiate("permessage-deflate; server_no_context_takeover")
        #expect(r?.0.serverNoContextTakeover == true)
        #expect(r?.1 == "permessage-deflate; server_no_context_takeover")
        let d = Self.negotiate("permessage-deflate; client_no_context_takeover", DeflatePolicy())
        #expect(d?.1 == "permessage-deflate; server_no_context_takeover; client_no_context_takeover")
        #expect(d?.0 == DeflateConfig(serverNoContextTakeover: true, clientNoContextTakeover: true))
    }

    @Test("§7.1.2.1 server_max_window_bits: answered with the same or smaller value; 8 declined")
    func serverMaxWindowBits() {
        #expect(Self.negotiate("permessage-deflate; server_max_window_bits=10")?.1 == "permessage-deflate; server_max_window_bits=10")
        #expect(Self.negotiate("permessage-deflate; server_max_window_bits=\"11\"")?.0.serverMaxWindowBits == 11)
        let small = DeflatePolicy(serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: 12)
        #expect(Self.negotiate("permessage-deflate; server_max_window_bits=14", small)?.1 == "permessage-deflate; server_max_window_bits=12")
        #expect(Self.negotiate("permessage-deflate", small)?.0.serverMaxWindowBits == 12)
        #expect(Self.negotiate("permessage-deflate; server_max_window_bits=8") == nil)  // zlib cannot honour 8
    }

    @Test("§7.1 offers with bad values, unknown or duplicate parameters are declined")
    func declines() {
        for header in [
            "permessage-deflate; server_max_window_bits=7", "permessage-deflate; server_max_window_bits=16",
            "permessage-deflate; server_max_window_bits", "permessage-deflate; server_max_window_bits=010",
            "permessage-deflate; server_max_window_bits=1a", "permessage-deflate; client_max_window_bits=16",
            "permessage-deflate; server_no_context_takeover=1", "permessage-deflate; client_no_context_takeover=\"\"",
            "permessage-deflate; mystery", "permessage-deflate; x=1",
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            "permessage-deflate; client_max_window_bits; client_max_window_bits=10",
            "permessage-deflate;", "x-webkit-deflate-frame", "", "foo, bar; baz=1",
        ] {
            #expect(Self.negotiate(header) == nil, "\(header)")
        }
        #expect(Self.negotiate("permessage-deflate", DeflatePolicy(enabled: false)) == nil)
    }

    @Test("§7.1 the first acceptable offer wins, skipping bad ones and other extensions")
    func fallback() {
        let r = Self.negotiate("permessage-deflate; server_max_window_bits=8; client_max_window_bits, permessage-deflate; client_max_window_bits")
        #expect(r?.1 == "permessage-deflate")
        let q = Self.negotiate("foo; a=\"x, y\", permessage-deflate; unknown, permessage-deflate; server_no_context_takeover; client_max_window_bits=9")
        #expect(q?.1 == "permessage-deflate; server_no_context_takeover; client_max_window_bits=9")
        #expect(q?.0 == DeflateConfig(serverNoContextTakeover: true, clientMaxWindowBits: 9))
    }
}
