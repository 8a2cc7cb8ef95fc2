import Testing
@testable import Artifacts
@testable import Server

@Suite("Artifact HTTP details (RFC 9110 ranges, content coding, names)")
struct ArtifactHTTPTests {
    typealias R = ArtifactHTTP.RangeRequest

    @Test func rangesOfRFC9110Section14() {
        #expect(ArtifactHTTP.range(nil, size: 100) == R.whole)
        #expect(ArtifactHTTP.range("bytes=0-9", size: 100) == R.part(first: 0, last: 9))
        #expect(ArtifactHTTP.range("bytes=90-", size: 100) == R.part(first: 90, last: 99))
        #expect(ArtifactHTTP.range("bytes=-10", size: 100) == R.part(first: 90, last: 99))
        #expect(ArtifactHTTP.range("bytes=-1000", size: 100) == R.part(first: 0, last: 99))
        #expect(ArtifactHTTP.range("bytes=50-5000", size: 100) == R.part(first: 50, last: 99))
        #expect(ArtifactHTTP.range("bytes=100-", size: 100) == R.unsatisfiable)
        #expect(ArtifactHTTP.range("bytes=-0", size: 100) == R.unsatisfiable)
        #expect(ArtifactHTTP.range("bytes=0-", size: 0) == R.unsatisfiable)
        // Ignored (whole representation): several ranges, other units, garbage, reversed.
        for h in ["bytes=0-1,5-6", "items=0-1", "bytes=a-b", "bytes=5-1", "bytes=", "bytes=--1"] {
            #expect(ArtifactHTTP.range(h, size: 100) == R.whole, "\(h)")
        }
    }

    /// RFC 9110 §14.1.2 bounds no position's digits: one past Int64 is still a position, so a
    /// first-pos at or past the end is unsatisfiable (§15.5.17) and a last-pos past it is
    /// clamped to the end, whatever their length.
    @Test func rangePositionsPastInt64Saturate() {
        let huge = "99999999999999999999" // 20 digits, over Int64.max (19)
        #expect(ArtifactHTTP.range("bytes=\(huge)-", size: 100) == R.unsatisfiable)
        #expect(ArtifactHTTP.range("bytes=\(huge)-\(huge)", size: 100) == R.unsatisfiable)
        #expect(ArtifactHTTP.range("bytes=9223372036854775807-", size: 100) == R.unsatisfiable)
        #expect(ArtifactHTTP.range("bytes=9223372036854775808-", size: 100) == R.unsatisfiable)
        #expect(ArtifactHTTP.range("bytes=0-\(huge)", size: 100) == R.part(first: 0, last: 99))
        #expect(ArtifactHTTP.range("bytes=5-\(huge)\(huge)", size: 100) == R.part(first: 5, last: 99))
        #expect(ArtifactHTTP.range("bytes=-\(huge)", size: 100) == R.part(first: 0, last: 99))
        #expect(ArtifactHTTP.range("bytes=0-\(huge)", size: 0) == R.unsatisfiable)
        // Leading zeros are digits too (1*DIGIT): many of them, a small number.
        #expect(ArtifactHTTP.range("bytes=0000000000000000000000010-0000000000000000000000019", size: 100) == R.part(first: 10, last: 19))
        #expect(ArtifactHTTP.range("bytes=-000000000000000000000", size: 100) == R.unsatisfiable)
        // Still invalid (ignored: the whole representation): last-pos below first-pos, even
        // when both are past Int64; several ranges; non-digits.
        #expect(ArtifactHTTP.range("bytes=\(huge)-\(huge.dropLast())8", size: 100) == R.whole)
        #expect(ArtifactHTTP.range("bytes=\(huge)0-\(huge)", size: 100) == R.whole)
        #expect(ArtifactHTTP.range("bytes=\(huge)-,0-1", size: 100) == R.whole)
        #expect(ArtifactHTTP.range("bytes=\(huge)x-", size: 100) == R.whole)
    }

    @Test func acceptEncodingOfRFC9110Section12() {
        #expect(ArtifactHTTP.acceptsGzip("gzip"))
        #expect(ArtifactHTTP.acceptsGzip("deflate, GZIP;q=0.5"))
        #expect(ArtifactHTTP.acceptsGzip("x-gzip"))
        #expect(ArtifactHTTP.acceptsGzip("*"))
        #expect(!ArtifactHTTP.acceptsGzip(nil))
        #expect(!ArtifactHTTP.acceptsGzip("identity"))
        #expect(!ArtifactHTTP.acceptsGzip("gzip;q=0"))
        #expect(!ArtifactHTTP.acceptsGzip("gzip;q=0.000, br"))
        #expect(!ArtifactHTTP.acceptsGzip("*;q=0"))
    }

    @Test func ifNoneMatchUsesWeakComparison() {
        #expect(ArtifactHTTP.matches(ifNoneMatch: "\"abc\"", etag: "\"abc\""))
        #expect(ArtifactHTTP.matches(ifNoneMatch: "\"x\", W/\"abc\"", etag: "\"abc\""))
        #expect(ArtifactHTTP.matches(ifNoneMatch: "*", etag: "\"abc\""))
        #expect(!ArtifactHTTP.matches(ifNoneMatch: "\"abcd\"", etag: "\"abc\""))
    }

    /// Status, range and encoding of a download, decided from metadata and request alone.
    @Test func fileAnswerDecidesStatusRangeAndEncoding() {
        let plain = ArtifactMetadata(id: "a", runId: "r", name: "a.bin", kind: "other", size: 1000, sha256: String(repeating: "ab", count: 32), createdAt: 0)
        var gz = plain
        gz.encoding = .gzip
        gz.storedSize = 300
        func answer(_ m: ArtifactMetadata, range: String? = nil, inm: String? = nil, gzip: Bool = false, head: Bool = false) -> FileAnswer {
            FileAnswer(m, storedSize: m.storedSize, FileRequest(range: range, ifNoneMatch: inm, acceptsGzip: gzip, isHead: head))
        }
        #expect(answer(plain).kind == .content(status: 200, first: 0, length: 1000) && answer(plain).hasBody && !answer(plain).inflates)
        #expect(answer(plain, range: "bytes=100-199").kind == .content(status: 206, first: 100, length: 100))
        #expect(!answer(plain, head: true).hasBody && answer(plain, head: true).kind == .content(status: 200, first: 0, length: 1000))
        #expect(answer(plain, inm: answer(plain).etag).kind == .notModified && answer(plain, inm: "*").kind == .notModified)
        #expect(answer(plain, range: "bytes=1000-").kind == .unsatisfiable && !answer(plain, range: "bytes=1000-").hasBody)
        var empty = plain
        empty.size = 0
        empty.storedSize = 0
        #expect(!answer(empty).hasBody)
        // gzip-stored: sent as stored to a gzip client (no range), else inflated.
        #expect(answer(gz, gzip: true).passthrough && answer(gz, gzip: true).kind == .content(status: 200, first: 0, length: 300))
        #expect(answer(gz).inflates && answer(gz).kind == .content(status: 200, first: 0, length: 1000))
        #expect(answer(gz, range: "bytes=0-9", gzip: true).inflates && !answer(gz, range: "bytes=0-9", gzip: true).passthrough)
    }

    @Test func namesArePercentDecodedAndChecked() {
        func decode(_ s: String) -> String? {
            var b = Array(s.utf8)
            return b.withUnsafeMutableBytes { ArtifactHTTP.percentDecode(UnsafeRawBufferPointer($0)) }
        }
        #expect(decode("trace%20%C3%A9.zip") == "trace é.zip")
        #expect(decode("a+b") == "a b")
        #expect(decode("%zz") == nil && decode("%4") == nil && decode("%FF") == nil)
        #expect(ArtifactHTTP.validName("trace.zip"))
        #expect(!ArtifactHTTP.validName("") && !ArtifactHTTP.validName("..") && !ArtifactHTTP.validName("a/b"))
        #expect(!ArtifactHTTP.validName("a\\b") && !ArtifactHTTP.validName("a\r\nSet-Cookie: x") && !ArtifactHTTP.validName(String(repeating: "a", count: 256)))
    }

    @Test func contentTypeAndDisposition() {
        #expect(ArtifactHTTP.contentType(name: "trace.zip", kind: "trace") == "application/zip")
        #expect(ArtifactHTTP.contentType(name: "shot.PNG", kind: "other") == "image/png")
        #expect(ArtifactHTTP.contentType(name: "page.html", kind: "other") == "application/octet-stream")
        #expect(ArtifactHTTP.contentType(name: "noext", kind: "log") == "text/plain; charset=utf-8")
        #expect(ArtifactHTTP.contentDisposition(name: "é \"x\".zip", contentType: "application/zip")
                == "attachment; filename=\"_ _x_.zip\"; filename*=UTF-8''%C3%A9%20%22x%22.zip")
        #expect(ArtifactHTTP.contentDisposition(name: "a.png", contentType: "image/png").hasPrefix("inline;"))
    }
}
