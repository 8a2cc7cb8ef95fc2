import PubSub

/// The body of `POST /api/tests/{runId}/events`: one JSON object or an array of objects,
/// validated as a whole before anything is published (nothing of an invalid batch is).
enum EventBody {
    /// The byte ranges of the objects to publish, in order; or what is wrong.
    static func objects(_ body: UnsafeRawBufferPointer, into out: inout [Range<Int>]) -> String? {
        out.removeAll(keepingCapacity: true)
        switch JSONScanner.validate(body) {
        case .failure(let e):
            return "invalid JSON: \(e.message)"
        case .success(let top):
            switch top.kind {
            case .object:
                out.append(top.range)
            case .array:
                var bad = false
                JSONScanner.forEachElement(in: body, array: top.range) { r in
                    if JSONScanner.kind(at: r.lowerBound, in: body) == .object { out.append(r) } else { bad = true }
                }
                if bad { return "every element of the array must be a JSON object" }
                if out.isEmpty { return "the array is empty: nothing to publish" }
            default:
                return "the body must be a JSON object or an array of objects"
            }
            return nil
        }
    }

    /// Whether an event object ends its run: its `type` member is the string `run.finished`.
    static func finishesRun(_ object: UnsafeRawBufferPointer) -> Bool {
        var finished = false
        JSONScanner.forEachMember(in: object, object: 0..<object.count) { key, value in
            if UnsafeRawBufferPointer(rebasing: object[key]).elementsEqual("type".utf8),
               JSONScanner.stringEquals(object, value, "run.finished") { finished = true }
        }
        return finished
    }
}
