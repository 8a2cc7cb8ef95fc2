import HTTP1
import Testing

/// RFC 9112 §7.1: chunked-body = *chunk last-chunk trailer-section CRLF.
@Suite("Chunked transfer coding")
struct ChunkedDecoderTests {
    struct Vector: Sendable, CustomStringConvertible {
        var name: String
        var body: String
        var payload: String
        var description: String { name }
    }

    static let valid: [Vector] = [
        Vector(name: "single chunk", body: "5\r\nhello\r\n0\r\n\r\n", payload: "hello"),
        Vector(name: "multiple chunks", body: "5\r\nhello\r\n1\r\n \r\n6\r\nworld!\r\n0\r\n\r\n",
               payload: "hello world!"),
        Vector(name: "empty body", body: "0\r\n\r\n", payload: ""),
        Vector(name: "upper and lower case hex", body: "A\r\n0123456789\r\nb\r\nabcdefghijk\r\n0\r\n\r\n",
               payload: "0123456789abcdefghijk"),
        Vector(name: "leading zeros (more than 16 digits)", body: "0000000000000000000003\r\nabc\r\n000\r\n\r\n",
               payload: "abc"),
        Vector(name: "chunk extensions ignored (RFC 9112 §7.1.1)",
               body: "3;name=value\r\nabc\r\n2 ; a ;b=\"q;\\\"x\"\r\nde\r\n0;last\r\n\r\n", payload: "abcde"),
        Vector(name: "trailers ignored (RFC 9112 §7.1.2)",
               body: "2\r\nok\r\n0\r\nX-Checksum: abc\r\nX-Empty:\r\nServer-Timing: a;dur=1\r\n\r\n", payload: "ok"),
        Vector(name: "CRLF inside data is payload", body: "4\r\n\r\n\r\n\r\n0\r\n\r\n", payload: "\r\n\r\n"),
    ]

    @Test("valid bodies decode to their payload", arguments: valid)
    func decodes(_ vector: Vector) {
        let input = bytes(vector.body)
        let result = decodeChunked(input)
        #expect(result.payload == bytes(vector.payload))
        #expect(result.last == .end(consumed: result.last.endConsumed))
        #expect(result.consumed == input.count)
        #expect(result.bodyBytes == Int64(vector.payload.utf8.count))
    }

    @Test("split at every offset, and byte by byte, the payload is the same", arguments: valid)
    func everySplit(_ vector: Vector) {
        let input = bytes(vector.body)
        for k in 0 ... input.count {
            let result = decodeChunked(input, cuts: [k])
            #expect(result.payload == bytes(vector.payload), "split \(k)")
            #expect(result.consumed == input.count, "split \(k)")
        }
        let byteByByte = decodeChunked(input, cuts: Array(0 ..< input.count))
        #expect(byteByByte.payload == bytes(vector.payload))
        #expect(byteByByte.consumed == input.count)
        #expect(byteByByte.bodyBytes == Int64(vector.payload.utf8.count))
    }

    @Test("bytes after the final CRLF are left for the next request")
    func stopsAtEnd() {
        let input = bytes("1\r\na\r\n0\r\n\r\nGET / HTTP/1.1\r\n")
        let result = decodeChunked(input)
        #expect(result.consumed == 11)
        #expect(result.payload == bytes("a"))
    }

    @Test("the decoder keeps answering end once complete")
    func endIsSticky() {
        var decoder = ChunkedDecoder()
        let input = bytes("0\r\n\r\nmore")
        input.withUnsafeBytes { buffer in
            #expect(decoder.decode(buffer) == .end(consumed: 5))
            #expect(decoder.isComplete)
            #expect(decoder.decode(UnsafeRawBufferPointer(rebasing: buffer[5...])) == .end(consumed: 0))
        }
    }

    @Test("a data run is reported as a range of the caller's input")
    func dataRunsAreInPlace() {
        var decoder = ChunkedDecoder()
        let input = bytes("6\r\nabc")
        input.withUnsafeBytes { buffer in
            #expect(decoder.decode(buffer) == .data(start: 3, count: 3, consumed: 6))
            #expect(decoder.decode(UnsafeRawBufferPointer(rebasing: buffer[6...])) == .needMore(consumed: 0))
        }
        #expect(decoder.bodyBytes == 3)
    }

    struct Bad: Sendable, CustomStringConvertible {
        var name: String
        var body: String
        var error: HTTPParseError
        var description: String { name }
    }

    static let invalid: [Bad] = [
        Bad(name: "non-hex size", body: "g\r\n", error: .badChunkSize),
        Bad(name: "empty size", body: "\r\n", error: .badChunkSize),
        Bad(name: "signed size", body: "+5\r\nhello\r\n0\r\n\r\n", error: .badChunkSize),
        Bad(name: "0x prefix", body: "0x5\r\nhello\r\n0\r\n\r\n", error: .badChunkSize),
        Bad(name: "size over Int64", body: "8000000000000000\r\n", error: .chunkSizeOverflow),
        Bad(name: "seventeen significant digits", body: "10000000000000000\r\n", error: .chunkSizeOverflow),
        Bad(name: "missing CRLF after data", body: "3\r\nabcd\r\n0\r\n\r\n", error: .badChunkFraming),
        Bad(name: "LF only after data", body: "3\r\nabc\n0\r\n\r\n", error: .badChunkFraming),
        Bad(name: "CR then junk after data", body: "3\r\nabc\rx", error: .badChunkFraming),
        Bad(name: "LF only after size", body: "3\nabc\r\n0\r\n\r\n", error: .badChunkFraming),
        Bad(name: "bare CR after size", body: "3\rabc", error: .badChunkFraming),
        Bad(name: "whitespace then no semicolon", body: "3 x\r\nabc\r\n", error: .badChunkExtension),
        Bad(name: "control byte in extension", body: "3;a=\u{1}\r\nabc\r\n", error: .badChunkExtension),
        Bad(name: "oversized extension", body: "3;" + String(repeating: "x", count: 5000) + "\r\n",
            error: .badChunkExtension),
        Bad(name: "trailer without colon", body: "0\r\nX-Broken\r\n\r\n", error: .badTrailer),
        Bad(name: "trailer obs-fold", body: "0\r\nX: a\r\n b\r\n\r\n", error: .badTrailer),
        Bad(name: "trailer with control byte", body: "0\r\nX: a\u{0}\r\n\r\n", error: .badTrailer),
        Bad(name: "final CRLF missing LF", body: "0\r\n\rx", error: .badChunkFraming),
        Bad(name: "trailer section over 16 KiB",
            body: "0\r\n" + String(repeating: "X-Pad: " + String(repeating: "p", count: 100) + "\r\n", count: 170),
            error: .trailerTooLarge),
    ]

    @Test("malformed bodies are rejected with status 400", arguments: invalid)
    func rejects(_ vector: Bad) {
        let input = bytes(vector.body)
        #expect(decodeChunked(input).last == .invalid(vector.error))
        #expect(vector.error.status == 400)
        // The verdict does not depend on how the input was split.
        for k in stride(from: 0, through: input.count, by: max(1, input.count / 40)) {
            #expect(decodeChunked(input, cuts: [k]).last == .invalid(vector.error), "split \(k)")
        }
    }

    @Test("the largest Int64 size is accepted")
    func maxSize() {
        var decoder = ChunkedDecoder()
        let input = bytes("7fffffffffffffff\r\nab")
        input.withUnsafeBytes { buffer in
            #expect(decoder.decode(buffer) == .data(start: 18, count: 2, consumed: 20))
        }
        #expect(decoder.bodyBytes == 2)
    }
}

extension ChunkedStep {
    /// The consumed count of an `.end`, or -1.
    var endConsumed: Int {
        if case .end(let consumed) = self { return consumed }
        return -1
    }
}
