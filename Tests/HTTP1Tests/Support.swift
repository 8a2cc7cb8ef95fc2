import HTTP1

/// Test helpers: run the parser over byte arrays.
struct Parsed: Equatable {
    var result: ParseResult
    var head: RequestHead
    var slots: [HTTPHeaderSlot]
}

func parse(_ bytes: [UInt8], maxHeadBytes: Int = 8192, slotCount: Int = 32) -> Parsed {
    var head = RequestHead()
    var slots = [HTTPHeaderSlot](repeating: HTTPHeaderSlot(), count: slotCount)
    let result = bytes.withUnsafeBytes { buffer in
        slots.withUnsafeMutableBufferPointer { slotBuffer in
            RequestParser.parse(buffer, maxHeadBytes: maxHeadBytes, slots: slotBuffer, into: &head)
        }
    }
    let used = result == .partial ? 0 : head.headerCount
    return Parsed(result: result, head: head, slots: Array(slots.prefix(used)))
}

func parse(_ text: String, maxHeadBytes: Int = 8192, slotCount: Int = 32) -> Parsed {
    parse(Array(text.utf8), maxHeadBytes: maxHeadBytes, slotCount: slotCount)
}
