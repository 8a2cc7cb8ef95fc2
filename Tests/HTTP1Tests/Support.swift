#if canImport(Glibc)
import Glibc
#endif
import GuardPage
import HTTP1

// Helpers that run the parser and decoder over byte arrays.

/// Everything one parse produced, comparable as a whole.
struct Parsed: Equatable {
    var result: ParseResult
    var head: RequestHead
    var slots: [HTTPHeaderSlot]
}

func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

func parse(
    _ buffer: UnsafeRawBufferPointer, maxHeadBytes: Int = 8192, slotCount: Int = 32
) -> Parsed {
    var head = RequestHead()
    var slots = [HTTPHeaderSlot](repeating: HTTPHeaderSlot(), count: slotCount)
    let result = slots.withUnsafeMutableBufferPointer { slotBuffer in
        RequestParser.parse(buffer, maxHeadBytes: maxHeadBytes, slots: slotBuffer, into: &head)
    }
    let used = result == .partial ? 0 : head.headerCount
    return Parsed(result: result, head: head, slots: Array(slots.prefix(used)))
}

func parse(_ input: [UInt8], maxHeadBytes: Int = 8192, slotCount: Int = 32) -> Parsed {
    input.withUnsafeBytes { parse($0, maxHeadBytes: maxHeadBytes, slotCount: slotCount) }
}

func parse(_ text: String, maxHeadBytes: Int = 8192, slotCount: Int = 32) -> Parsed {
    parse(bytes(text), maxHeadBytes: maxHeadBytes, slotCount: slotCount)
}

/// The text of a byte range of `input`.
func text(_ input: [UInt8], _ start: Int, _ count: Int) -> String {
    String(decoding: input[start ..< start + count], as: UTF8.self)
}

/// The header names and values of a parse, as strings.
func fields(_ input: [UInt8], _ parsed: Parsed) -> [String] {
    parsed.slots.map { slot in
        text(input, Int(slot.nameStart), Int(slot.nameLength)) + "=" + text(input, Int(slot.valueStart), Int(slot.valueLength))
    }
}

/// Decodes a whole chunked body, feeding it in pieces cut at `cuts` (ascending
/// offsets). Returns the payload, the final step, and the bytes consumed in total.
func decodeChunked(_ input: [UInt8], cuts: [Int] = []) -> (payload: [UInt8], last: ChunkedStep, consumed: Int, bodyBytes: Int64) {
    var decoder = ChunkedDecoder()
    var payload: [UInt8] = []
    var offset = 0
    let bounds = cuts + [input.count]
    var last = ChunkedStep.needMore(consumed: 0)
    for bound in bounds {
        // Feed input[offset ..< bound] until the decoder has consumed all of it.
        var pieceDone = false
        while !pieceDone {
            let step = withGuardedCopy(Array(input[offset ..< bound])) { piece in decoder.decode(piece) }
            last = step
            switch step {
            case .data(let start, let count, let consumed):
                payload += input[offset + start ..< offset + start + count]
                offset += consumed
                pieceDone = offset == bound
            case .needMore(let consumed):
                offset += consumed
                pieceDone = true
            case .end(let consumed):
                return (payload, step, offset + consumed, decoder.bodyBytes)
            case .invalid:
                return (payload, step, offset, decoder.bodyBytes)
            }
        }
    }
    return (payload, last, offset, decoder.bodyBytes)
}
