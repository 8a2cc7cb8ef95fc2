import HTTP1
import Testing

@Suite("Error statuses, codes and reason phrases")
struct HTTPParseErrorTests {
    @Test("statuses: 431 for size limits, 505 for versions, 501 for codings, else 400")
    func statuses() {
        #expect(HTTPParseError.tooManyHeaders.status == 431)
        #expect(HTTPParseError.headTooLarge.status == 431)
        #expect(HTTPParseError.unsupportedVersion.status == 505)
        #expect(HTTPParseError.unsupportedTransferEncoding.status == 501)
        let others = HTTPParseError.allCases.filter {
            ![.tooManyHeaders, .headTooLarge, .unsupportedVersion, .unsupportedTransferEncoding].contains($0)
        }
        #expect(others.allSatisfy { $0.status == 400 })
    }

    @Test("codes are unique snake_case; messages are non-empty")
    func codes() {
        let codes = HTTPParseError.allCases.map(\.code)
        #expect(Set(codes).count == codes.count)
        #expect(codes.allSatisfy { code in code.utf8.allSatisfy { $0 == 0x5F || ($0 >= 0x61 && $0 <= 0x7A) } })
        #expect(HTTPParseError.badRequestLine.code == "bad_request_line")
        #expect(HTTPParseError.headTooLarge.code == "header_too_large")
        #expect(HTTPParseError.allCases.allSatisfy { !$0.message.isEmpty })
    }

    @Test("reason phrases for every status the server sends (RFC 9110 §15)")
    func reasons() {
        let statuses = [100, 101, 200, 201, 204, 206, 301, 302, 304, 400, 401, 403, 404, 405, 408, 410, 411,
                        413, 416, 417, 426, 429, 431, 500, 501, 503, 505]
        for status in statuses {
            #expect(HTTPStatusLine.reason(status).description != "Unknown", "\(status)")
        }
        #expect(HTTPStatusLine.reason(404).description == "Not Found")
        #expect(HTTPStatusLine.reason(431).description == "Request Header Fields Too Large")
        #expect(HTTPStatusLine.reason(299).description == "Unknown")
    }

    @Test("method names round-trip through the parser")
    func methodNames() {
        for method in HTTPMethod.allCases where method != .other {
            let target = method == .connect ? "h:1" : "/"
            let parsed = parse("\(method.name) \(target) HTTP/1.1\r\nHost: a\r\n\r\n")
            #expect(parsed.head.method == method)
        }
    }
}
