import Testing
import PubSub

/// Element and member ranges of validated documents (RFC 8259 §4, §5).
@Suite("JSON walkers: forEachElement, forEachMember, kind")
struct JSONScannerTestsWalk {
    /// The texts of the elements of the top-level array of `text`.
    static func elements(_ text: String) -> [String] {
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBytes { buffer in
            guard case .success(let value) = JSONScanner.validate(buffer), value.kind == .array else { return ["<invalid>"] }
            var out: [String] = []
            JSONScanner.forEachElement(in: buffer, array: value.range) { out.append(jsonText(bytes, $0)) }
            return out
        }
    }

    /// The "key=value" texts of the members of the top-level object of `text`.
    static func members(_ text: String) -> [String] {
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBytes { buffer in
            guard case .success(let value) = JSONScanner.validate(buffer), value.kind == .object else { return ["<invalid>"] }
            var out: [String] = []
            JSONScanner.forEachMember(in: buffer, object: value.range) { key, value in
                out.append(jsonText(bytes, key) + "=" + jsonText(bytes, value))
            }
            return out
        }
    }

    @Test("RFC 8259 §5: element ranges of scalars, nested containers and tricky strings")
    func elementRanges() {
        #expect(Self.elements("[]") == [])
        #expect(Self.elements(" [ ] ") == [])
        #expect(Self.elements("[1]") == ["1"])
        #expect(Self.elements("[ 1 , -2.5e3 ,true,false , null ]") == ["1", "-2.5e3", "true", "false", "null"])
        #expect(Self.elements(#"[{"a":[1,2]},[[]],{}]"#) == [#"{"a":[1,2]}"#, "[[]]", "{}"])
        #expect(
            Self.elements(#"["a,b", "]", "}", "x\"],y", "\\", "{[", "long string with ] and } inside it"]"#)
                == [#""a,b""#, #""]""#, #""}""#, #""x\"],y""#, #""\\""#, #""{[""#, #""long string with ] and } inside it""#])
        #expect(Self.elements("[\n\t{\"k\": \"v]}\\\"\"}\r\n, [\"[\"]\n]") == [#"{"k": "v]}\""}"#, #"["["]"#])
        #expect(Self.elements(#"[[{"x":"]]]]]]]]]]]]]]\"]]]]"}],"é😀"]"#) == [#"[{"x":"]]]]]]]]]]]]]]\"]]]]"}]"#, #""é😀""#])
    }

    @Test("RFC 8259 §4: member keys without quotes, raw escapes kept, duplicates in order")
    func memberRanges() {
        #expect(Self.members("{}") == [])
        #expect(Self.members("{ \n }") == [])
        #expect(
            Self.members(#"{"op":"subscribe","runId":"r1","since":7,"epoch":"abc"}"#)
                == [#"op="subscribe""#, #"runId="r1""#, "since=7", #"epoch="abc""#])
        #expect(
            Self.members(#"{ "a" : { "b" : [ 1 , { } ] } , "" : "" , "k\"ey" : "v,}" , "a" : null }"#)
                == [#"a={ "b" : [ 1 , { } ] }"#, #"="""#, #"k\"ey="v,}""#, "a=null"])
        #expect(Self.members(#"{"\\":"\\","x":[{"}":"{"}]}"#) == [#"\\="\\""#, #"x=[{"}":"{"}]"#])
    }

    @Test("RFC 8259 §13: the image example's members and its IDs array")
    func rfcExampleWalk() {
        let bytes = Array(rfc8259ImageExample.utf8)
        bytes.withUnsafeBytes { buffer in
            guard case .success(let root) = JSONScanner.validate(buffer) else {
                Issue.record("rejected")
                return
            }
            var image: Range<Int>?
            JSONScanner.forEachMember(in: buffer, object: root.range) { key, value in
                if JSONScanner.stringEquals(buffer, key.lowerBound - 1 ..< key.upperBound + 1, "Image") { image = value }
            }
            guard let image else {
                Issue.record("no Image member")
                return
            }
            var keys: [String] = []
            var ids: [Int64] = []
            JSONScanner.forEachMember(in: buffer, object: image) { key, value in
                keys.append(jsonText(bytes, key))
                if jsonText(bytes, key) == "IDs" {
                    #expect(JSONScanner.kind(at: value.lowerBound, in: buffer) == .array)
                    JSONScanner.forEachElement(in: buffer, array: value) { element in
                        ids.append(JSONScanner.nonNegativeInteger(buffer, element) ?? -1)
                    }
                }
            }
            #expect(keys == ["Width", "Height", "Title", "Thumbnail", "Animated", "IDs"])
            #expect(ids == [116, 943, 234, 38793])
        }
    }

    @Test("RFC 8259 §3: kind(at:) reads the first byte of every kind of value")
    func kinds() {
        let bytes = Array(#"[{}, [], "s", -1, 2, true, false, null]"#.utf8)
        bytes.withUnsafeBytes { buffer in
            var kinds: [JSONKind] = []
            JSONScanner.forEachElement(in: buffer, array: 0 ..< buffer.count) { kinds.append(JSONScanner.kind(at: $0.lowerBound, in: buffer)) }
            #expect(kinds == [.object, .array, .string, .number, .number, .true, .false, .null])
        }
    }

    @Test("walkers ignore a range of the wrong kind")
    func wrongKind() {
        let bytes = Array(#"{"a":1}"#.utf8)
        bytes.withUnsafeBytes { buffer in
            var calls = 0
            JSONScanner.forEachElement(in: buffer, array: 0 ..< buffer.count) { _ in calls += 1 }
            JSONScanner.forEachMember(in: buffer, object: 5 ..< 6) { _, _ in calls += 1 }
            #expect(calls == 0)
        }
    }
}
