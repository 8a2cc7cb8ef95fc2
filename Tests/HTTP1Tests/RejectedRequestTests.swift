import GuardPage
import HTTP1
import Testing

/// A request head the parser must reject, and the exact error.
struct RejectedVector: Sendable, CustomStringConvertible {
    var name: String
    var request: [UInt8]
    var error: HTTPParseError
    var slotCount = 32
    var maxHeadBytes = 8192

    init(_ name: String, _ request: String, _ error: HTTPParseError, slotCount: Int = 32, maxHeadBytes: Int = 8192) {
        self.name = name
        self.request = bytes(request)
        self.error = error
        self.slotCount = slotCount
        self.maxHeadBytes = maxHeadBytes
    }

    var description: String { name }
}

/// Builds `GET / HTTP/1.1` with Host and the given extra field lines.
func withFields(_ lines: String) -> String { "GET / HTTP/1.1\r\nHost: a\r\n" + lines + "\r\n" }

let rejectedVectors: [RejectedVector] = [
    // RFC 9112 §3: request-line = method SP request-target SP HTTP-version.
    RejectedVector("method only", "GET\r\n\r\n", .badRequestLine),
    RejectedVector("leading space", " GET / HTTP/1.1\r\n\r\n", .badRequestLine),
    RejectedVector("tab after method", "GET\t/ HTTP/1.1\r\n\r\n", .badRequestLine),
    RejectedVector("HTTP/0.9 line without version", "GET /\r\n\r\n", .badRequestLine),
    RejectedVector("bare LF after target", "GET /\n\n", .badRequestLine),
    // RFC 9110 §9.1: method = token.
    RejectedVector("delimiter in method", "GE(T / HTTP/1.1\r\nHost: a\r\n\r\n", .badMethod),
    RejectedVector("non-ASCII method", "G\u{c9}T / HTTP/1.1\r\nHost: a\r\n\r\n", .badMethod),
    // RFC 9112 §3.2: request-target forms.
    RejectedVector("empty target (double space)", "GET  / HTTP/1.1\r\n\r\n", .badTarget),
    RejectedVector("relative target", "GET a/b HTTP/1.1\r\nHost: a\r\n\r\n", .badTarget),
    RejectedVector("scheme starting with digit", "GET 1http://x/ HTTP/1.1\r\nHost: a\r\n\r\n", .badTarget),
    RejectedVector("asterisk-form with GET", "GET * HTTP/1.1\r\nHost: a\r\n\r\n", .badTarget),
    RejectedVector("control byte in target", "GET /a\u{1}b HTTP/1.1\r\nHost: a\r\n\r\n", .badTarget),
    RejectedVector("tab in target", "GET /a\tb HTTP/1.1\r\nHost: a\r\n\r\n", .badTarget),
    RejectedVector("DEL in target", "GET /a\u{7f} HTTP/1.1\r\nHost: a\r\n\r\n", .badTarget),
    RejectedVector("CONNECT with a path", "CONNECT /x HTTP/1.1\r\nHost: a\r\n\r\n", .badTarget),
    RejectedVector("CONNECT without port", "CONNECT example.com HTTP/1.1\r\nHost: a\r\n\r\n", .badTarget),
    // RFC 9112 §2.3: HTTP-version = "HTTP/" DIGIT "." DIGIT, case-sensitive.
    RejectedVector("lowercase http", "GET / http/1.1\r\nHost: a\r\n\r\n", .badVersion),
    RejectedVector("missing minor", "GET / HTTP/1.\r\nHost: a\r\n\r\n", .badVersion),
    RejectedVector("missing dot", "GET / HTTP/11\r\nHost: a\r\n\r\n", .badVersion),
    RejectedVector("two-digit minor", "GET / HTTP/1.10\r\nHost: a\r\n\r\n", .badVersion),
    RejectedVector("junk after version", "GET / HTTP/1.1x\r\nHost: a\r\n\r\n", .badVersion),
    RejectedVector("space after version", "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", .badVersion),
    RejectedVector("wrong protocol name", "GET / HTTX/1.1\r\nHost: a\r\n\r\n", .badVersion),
    // RFC 9110 §15.6.6: a well-formed version we do not speak is 505.
    RejectedVector("HTTP/2.0", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", .unsupportedVersion),
    RejectedVector("HTTP/1.2", "GET / HTTP/1.2\r\nHost: a\r\n\r\n", .unsupportedVersion),
    RejectedVector("HTTP/0.9", "GET / HTTP/0.9\r\n\r\n", .unsupportedVersion),
    // RFC 9112 §5: field-line = field-name ":" OWS field-value OWS.
    RejectedVector("field without colon", withFields("NoColon\r\n"), .badHeaderLine),
    RejectedVector("field with empty name", withFields(": value\r\n"), .badHeaderLine),
    RejectedVector("space before colon", withFields("X-A : b\r\n"), .whitespaceBeforeColon),
    RejectedVector("tab before colon", "GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", .whitespaceBeforeColon),
    RejectedVector("delimiter in name", withFields("X(A): b\r\n"), .badHeaderName),
    RejectedVector("non-ASCII name", withFields("X-\u{e9}: b\r\n"), .badHeaderName),
    RejectedVector("NUL in value", withFields("X: a\u{0}b\r\n"), .badHeaderValue),
    RejectedVector("DEL in value", withFields("X: \u{7f}\r\n"), .badHeaderValue),
    RejectedVector("control byte in value", withFields("X: a\u{1b}b\r\n"), .badHeaderValue),
    // RFC 9112 §5.2 and §2.2: obs-fold and whitespace before the first field.
    RejectedVector("obs-fold continuation", withFields("X: a\r\n  continued\r\n"), .obsFold),
    RejectedVector("obs-fold with tab", withFields("X: a\r\n\tcontinued\r\n"), .obsFold),
    RejectedVector("whitespace before first field", "GET / HTTP/1.1\r\n Host: a\r\n\r\n", .obsFold),
    // RFC 9112 §2.2: a CR must be followed by LF.
    RejectedVector("bare CR before request line", "\rGET / HTTP/1.1\r\nHost: a\r\n\r\n", .bareCR),
    RejectedVector("bare CR ending request line", "GET / HTTP/1.1\rHost: a\r\n\r\n", .bareCR),
    RejectedVector("bare CR inside value", withFields("X: a\rb\r\n"), .bareCR),
    RejectedVector("bare CR as empty line", "GET / HTTP/1.1\r\nHost: a\r\n\r\r\n", .bareCR),
    // RFC 6585 §5: 431 for too many fields or too large a head.
    RejectedVector("more fields than slots", withFields("B: b\r\nC: c\r\n"), .tooManyHeaders, slotCount: 2),
    RejectedVector("incomplete head at the limit", "GET /" + String(repeating: "a", count: 40),
                   .headTooLarge, maxHeadBytes: 32),
    RejectedVector("complete head over the limit", withFields("X: " + String(repeating: "b", count: 40) + "\r\n"),
                   .headTooLarge, maxHeadBytes: 48),
    // RFC 9112 §3.2: exactly one Host in HTTP/1.1.
    RejectedVector("HTTP/1.1 without Host", "GET / HTTP/1.1\r\nX: y\r\n\r\n", .badHost),
    RejectedVector("two Host lines", withFields("host: b\r\n"), .badHost),
    RejectedVector("two Host lines in HTTP/1.0", "GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n", .badHost),
    // RFC 9110 §8.6, RFC 9112 §6.3: Content-Length = 1*DIGIT, consistent.
    RejectedVector("non-digit Content-Length", withFields("Content-Length: abc\r\n"), .badContentLength),
    RejectedVector("negative Content-Length", withFields("Content-Length: -1\r\n"), .badContentLength),
    RejectedVector("signed Content-Length", withFields("Content-Length: +1\r\n"), .badContentLength),
    RejectedVector("empty Content-Length", withFields("Content-Length:\r\n"), .badContentLength),
    RejectedVector("Content-Length list", withFields("Content-Length: 5, 5\r\n"), .badContentLength),
    RejectedVector("Content-Length with inner space", withFields("Content-Length: 1 2\r\n"), .badContentLength),
    RejectedVector("Content-Length overflow", withFields("Content-Length: 9223372036854775808\r\n"),
                   .badContentLength),
    RejectedVector("differing Content-Length", withFields("Content-Length: 5\r\nContent-Length: 6\r\n"),
                   .badContentLength),
    // RFC 9112 §6.1, §11.2: request smuggling.
    RejectedVector("Content-Length and Transfer-Encoding",
                   withFields("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n"),
                   .contentLengthWithTransferEncoding),
    RejectedVector("Transfer-Encoding and Content-Length",
                   withFields("Transfer-Encoding: chunked\r\nContent-Length: 0\r\n"),
                   .contentLengthWithTransferEncoding),
    // RFC 9112 §6.3 item 4, §7: chunked must be the final coding, once.
    RejectedVector("Transfer-Encoding without chunked", withFields("Transfer-Encoding: gzip\r\n"),
                   .badTransferEncoding),
    RejectedVector("chunked not final", withFields("Transfer-Encoding: chunked, gzip\r\n"), .badTransferEncoding),
    RejectedVector("chunked not final across lines",
                   withFields("Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n"), .badTransferEncoding),
    RejectedVector("chunked twice", withFields("Transfer-Encoding: chunked, chunked\r\n"), .badTransferEncoding),
    RejectedVector("empty Transfer-Encoding", withFields("Transfer-Encoding: \r\n"), .badTransferEncoding),
    RejectedVector("Transfer-Encoding in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
                   .badTransferEncoding),
    // RFC 9112 §6.1: an unknown coding before chunked is 501.
    RejectedVector("gzip then chunked", withFields("Transfer-Encoding: gzip, chunked\r\n"),
                   .unsupportedTransferEncoding),
    RejectedVector("coding with parameters", withFields("Transfer-Encoding: x;q=1\r\nTransfer-Encoding: chunked\r\n"),
                   .unsupportedTransferEncoding),
]

@Suite("Rejected request heads")
struct RejectedRequestTests {
    @Test("every rejected form reports its exact error", arguments: rejectedVectors)
    func rejected(_ vector: RejectedVector) {
        let parsed = withGuardedCopy(vector.request) {
            parse($0, maxHeadBytes: vector.maxHeadBytes, slotCount: vector.slotCount)
        }
        #expect(parsed.result == .invalid(vector.error))
    }

    @Test("every prefix of a rejected form is partial or the same error", arguments: rejectedVectors)
    func prefixesNeverDisagree(_ vector: RejectedVector) {
        for k in 0 ..< vector.request.count {
            let result = parse(Array(vector.request.prefix(k)), maxHeadBytes: vector.maxHeadBytes,
                               slotCount: vector.slotCount).result
            #expect(result == .partial || result == .invalid(vector.error), "prefix \(k)")
        }
    }

    @Test("zero slots reject any field but accept a field-less head")
    func zeroSlots() {
        #expect(parse("GET / HTTP/1.0\r\n\r\n", slotCount: 0).result == .complete(headLength: 18))
        #expect(parse("GET / HTTP/1.1\r\nHost: a\r\n\r\n", slotCount: 0).result == .invalid(.tooManyHeaders))
    }
}
