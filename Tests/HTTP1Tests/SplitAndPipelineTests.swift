import GuardPage
import HTTP1
import Testing

/// picohttpparser's discipline: a stateless parser must say `.partial` for every
/// proper prefix of a valid head and give identical results once it is whole.
@Suite("Split input and pipelining")
struct SplitAndPipelineTests {
    @Test("every split offset of a valid head is partial until complete", arguments: validVectors)
    func everySplitOffset(_ vector: ValidVector) {
        let input = vector.input
        let whole = parse(input)
        #expect(check(vector, whole) == [])
        for k in 0 ..< vector.headLength {
            let prefix = Array(input.prefix(k))
            #expect(parse(prefix).result == .partial, "prefix \(k)")
        }
        // Any number of bytes beyond the head leaves the result unchanged.
        for k in vector.headLength ... input.count {
            #expect(parse(Array(input.prefix(k))) == whole, "prefix \(k)")
        }
    }

    @Test("a receive buffer growing byte by byte completes exactly at the head's end", arguments: validVectors)
    func byteByByteGrowth(_ vector: ValidVector) {
        let input = vector.input
        var received: [UInt8] = []
        var completedAt = -1
        for byte in input {
            received.append(byte)
            let parsed = withGuardedCopy(received) { parse($0) }
            if case .complete = parsed.result {
                completedAt = received.count
                #expect(check(vector, parsed) == [])
                break
            }
            #expect(parsed.result == .partial)
        }
        #expect(completedAt == vector.headLength)
    }

    @Test("pipelined requests parse one after another by offset (RFC 9112 §9.3.2)")
    func pipelining() {
        let input = bytes(
            "GET /a HTTP/1.1\r\nHost: a\r\n\r\n"
                + "POST /b HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"
                + "\r\nGET /c?x=1 HTTP/1.1\nHost: a\nConnection: close\n\n")
        var offset = 0
        var seen: [(String, Bool)] = []
        input.withUnsafeBytes { all in
            while offset < all.count {
                let buffer = UnsafeRawBufferPointer(rebasing: all[offset...])
                let parsed = parse(buffer)
                guard case .complete(let length) = parsed.result else {
                    Issue.record("expected complete at \(offset), got \(parsed.result)")
                    return
                }
                let path = String(decoding: parsed.head.path(in: buffer), as: UTF8.self)
                seen.append((path, parsed.head.keepAlive))
                offset += length + Int(max(parsed.head.contentLength, 0))
            }
        }
        #expect(seen.map(\.0) == ["/a", "/b", "/c"])
        #expect(seen.map(\.1) == [true, true, false])
        #expect(offset == input.count)
    }

    @Test("a chunked body between pipelined requests is skipped by the decoder")
    func pipelinedChunkedBody() {
        let first = "POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
        let body = "3\r\nabc\r\n0\r\nX-Trailer: t\r\n\r\n"
        let second = "GET /next HTTP/1.1\r\nHost: a\r\n\r\n"
        let input = bytes(first + body + second)
        input.withUnsafeBytes { all in
            let head = parse(all)
            #expect(head.result == .complete(headLength: first.utf8.count))
            #expect(head.head.chunked)
            var decoder = ChunkedDecoder()
            var offset = first.utf8.count
            var payload: [UInt8] = []
            loop: while true {
                switch decoder.decode(UnsafeRawBufferPointer(rebasing: all[offset...])) {
                case .data(let start, let count, let consumed):
                    payload += all[offset + start ..< offset + start + count]
                    offset += consumed
                case .end(let consumed):
                    offset += consumed
                    break loop
                case let other:
                    Issue.record("unexpected \(other)")
                    return
                }
            }
            #expect(payload == bytes("abc"))
            let next = parse(UnsafeRawBufferPointer(rebasing: all[offset...]))
            #expect(next.result == .complete(headLength: second.utf8.count))
            #expect(String(decoding: next.head.path(in: UnsafeRawBufferPointer(rebasing: all[offset...])),
                           as: UTF8.self) == "/next")
        }
    }
}
