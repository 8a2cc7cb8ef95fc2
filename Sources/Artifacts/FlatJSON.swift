/// The tiny JSON the store needs for its metadata files: one flat object of strings, integers
/// and booleans. Written by `FlatJSON.encode`; read back by `FlatJSON.decode`, which also takes
/// what other tools write for the same object (any key order, whitespace, `\/` and `\u` escapes),
/// so an operator (or a test) may edit a metadata file by hand. Nested values are rejected.
public enum FlatJSON {
    enum Value: Equatable {
        case string(String)
        case number(Double)
        case bool(Bool)
        case null
    }

    /// `{"k":v,...}` in the given order (cold path: one object per artifact).
    static func encode(_ fields: [(String, Value)]) -> String {
        var out = "{"
        for (i, (k, v)) in fields.enumerated() {
            if i > 0 { out += "," }
            out += quote(k) + ":"
            switch v {
            case .string(let s): out += quote(s)
            case .number(let n): out += n == n.rounded() && abs(n) < 1e15 ? String(Int64(n)) : "\(n)"
            case .bool(let b): out += b ? "true" : "false"
            case .null: out += "null"
            }
        }
        return out + "}"
    }

    /// A JSON string literal for `s` (escapes quotes, backslashes and control characters).
    public static func quote(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 {
                    let hex = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }

    /// The fields of a flat object, or nil when `bytes` is not one.
    static func decode(_ bytes: [UInt8]) -> [String: Value]? {
        var p = Parser(b: bytes)
        return p.object()
    }

    private struct Parser {
        let b: [UInt8]
        var i = 0

        mutating func ws() { while i < b.count, b[i] == 32 || b[i] == 9 || b[i] == 10 || b[i] == 13 { i += 1 } }

        mutating func eat(_ c: UInt8) -> Bool {
            ws()
            guard i < b.count, b[i] == c else { return false }
            i += 1
            return true
        }

        mutating func object() -> [String: Value]? {
            guard eat(UInt8(ascii: "{")) else { return nil }
            var out: [String: Value] = [:]
            if eat(UInt8(ascii: "}")) { return finish(out) }
            while true {
                ws()
                guard let k = string(), eat(UInt8(ascii: ":")), let v = value() else { return nil }
                out[k] = v
                if eat(UInt8(ascii: ",")) { continue }
                guard eat(UInt8(ascii: "}")) else { return nil }
                return finish(out)
            }
        }

        mutating func finish(_ out: [String: Value]) -> [String: Value]? {
            ws()
            return i == b.count ? out : nil
        }

        mutating func value() -> Value? {
            ws()
            guard i < b.count else { return nil }
            switch b[i] {
            case UInt8(ascii: "\""): return string().map(Value.string)
            case UInt8(ascii: "t"): return literal("true") ? .bool(true) : nil
            case UInt8(ascii: "f"): return literal("false") ? .bool(false) : nil
            case UInt8(ascii: "n"): return literal("null") ? .null : nil
            default:
                let start = i
                while i < b.count, b[i] == UInt8(ascii: "-") || b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: ".")
                    || b[i] == UInt8(ascii: "e") || b[i] == UInt8(ascii: "E") || (b[i] >= 48 && b[i] <= 57) { i += 1 }
                return Double(String(decoding: b[start..<i], as: UTF8.self)).map(Value.number)
            }
        }

        mutating func literal(_ s: StaticString) -> Bool {
            let n = s.utf8CodeUnitCount
            guard i + n <= b.count else { return false }
            for k in 0..<n where b[i + k] != s.utf8Start[k] { return false }
            i += n
            return true
        }

        mutating func string() -> String? {
            guard i < b.count, b[i] == UInt8(ascii: "\"") else { return nil }
            i += 1
            var out: [UInt8] = []
            while i < b.count {
                let c = b[i]
                i += 1
                if c == UInt8(ascii: "\"") { return String(decoding: out, as: UTF8.self) }
                if c != UInt8(ascii: "\\") { out.append(c); continue }
                guard i < b.count else { return nil }
                let e = b[i]
                i += 1
                switch e {
                case UInt8(ascii: "n"): out.append(10)
                case UInt8(ascii: "r"): out.append(13)
                case UInt8(ascii: "t"): out.append(9)
                case UInt8(ascii: "b"): out.append(8)
                case UInt8(ascii: "f"): out.append(12)
                case UInt8(ascii: "u"):
                    guard i + 4 <= b.count, var code = UInt32(String(decoding: b[i..<(i + 4)], as: UTF8.self), radix: 16) else { return nil }
                    i += 4
                    // A surrogate pair (RFC 8259 §7) spells one scalar above U+FFFF.
                    if code >= 0xD800 && code < 0xDC00, i + 6 <= b.count, b[i] == UInt8(ascii: "\\"), b[i + 1] == UInt8(ascii: "u"),
                       let low = UInt32(String(decoding: b[(i + 2)..<(i + 6)], as: UTF8.self), radix: 16), low >= 0xDC00, low < 0xE000 {
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                        i += 6
                    }
                    out.append(contentsOf: Array(String(Unicode.Scalar(code).map(Character.init) ?? "\u{FFFD}").utf8))
                default: out.append(e) // \" \\ \/
                }
            }
            return nil
        }
    }
}
