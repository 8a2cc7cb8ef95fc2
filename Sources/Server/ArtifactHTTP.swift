/// HTTP details of artifact responses (cold paths: Strings are fine here).
enum ArtifactHTTP {
    /// Content-Type by file extension, then by kind. Types a browser would run as a page
    /// (HTML, SVG) are served as bytes so a stored artifact cannot script this origin.
    static func contentType(name: String, kind: String) -> String {
        let ext = name.split(separator: ".").count > 1 ? String(name.split(separator: ".").last!).lowercased() : ""
        switch ext {
        case "zip": return "application/zip"
        case "json": return "application/json"
        case "png": return "image/png"
        case "jpg", "jpeg": return "image/jpeg"
        case "gif": return "image/gif"
        case "webp": return "image/webp"
        case "webm": return "video/webm"
        case "mp4": return "video/mp4"
        case "txt", "log": return "text/plain; charset=utf-8"
        case "gz": return "application/gzip"
        default: break
        }
        switch kind {
        case "log": return "text/plain; charset=utf-8"
        case "screenshot": return "image/png"
        case "video": return "video/webm"
        case "trace": return "application/zip"
        default: return "application/octet-stream"
        }
    }

    /// `inline` for what browsers show safely, else `attachment`; the name in ASCII and
    /// (RFC 8187) in UTF-8.
    static func contentDisposition(name: String, contentType: String) -> String {
        let inline = contentType.hasPrefix("image/") || contentType.hasPrefix("video/") || contentType.hasPrefix("text/plain")
            || contentType == "application/json"
        let ascii = String(name.unicodeScalars.map { u -> Character in
            u.value >= 0x20 && u.value < 0x7F && u != "\"" && u != "\\" ? Character(u) : "_"
        })
        var encoded = ""
        for b in name.utf8 {
            let c = Character(Unicode.Scalar(b))
            if (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || "!#$&+-.^_`|~".contains(c) {
                encoded.append(c)
            } else {
                encoded += "%" + String(b >> 4, radix: 16, uppercase: true) + String(b & 15, radix: 16, uppercase: true)
            }
        }
        return "\(inline ? "inline" : "attachment"); filename=\"\(ascii)\"; filename*=UTF-8''\(encoded)"
    }

    /// CORS for signed files (a trace viewer on another origin fetches them; no credentials).
    static let cors = "Access-Control-Allow-Origin: *\r\nAccess-Control-Expose-Headers: Content-Length, Content-Range, Content-Disposition, Content-Encoding, ETag, Accept-Ranges\r\n"

    /// The answer to an `OPTIONS` preflight on a signed file.
    static let preflight = "Access-Control-Allow-Origin: *\r\nAccess-Control-Allow-Methods: GET, HEAD, OPTIONS\r\nAccess-Control-Allow-Headers: Range, If-None-Match, Content-Type\r\nAccess-Control-Max-Age: 86400\r\n"

    /// A single byte range (RFC 9110 §14.1.2) resolved against `size`.
    enum RangeRequest: Equatable {
        case whole
        case part(first: Int64, last: Int64)
        case unsatisfiable
    }

    /// Parses `bytes=a-b`, `bytes=a-`, `bytes=-n`. Several ranges or a malformed header are
    /// answered with the whole representation (RFC 9110 §14.2 lets a server ignore Range).
    /// Positions have any number of digits (§14.1.2: `1*DIGIT`): past Int64 they saturate, so
    /// a first-pos beyond every file is unsatisfiable and a last-pos beyond it is clamped to
    /// the end, as for any other position past the end.
    static func range(_ header: String?, size: Int64) -> RangeRequest {
        guard let h = header?.trimmingCharacters(), h.hasPrefix("bytes=") else { return .whole }
        let spec = h.dropFirst(6).trimmingSpaces()
        guard !spec.contains(","), let dash = spec.firstIndex(of: "-") else { return .whole }
        let a = spec[..<dash].trimmingSpaces(), b = spec[spec.index(after: dash)...].trimmingSpaces()
        if a.isEmpty {
            guard let n = position(b) else { return .whole }
            if n == 0 || size == 0 { return .unsatisfiable }
            return .part(first: max(0, size - n), last: size - 1)
        }
        guard let first = position(a) else { return .whole }
        var last = size - 1
        if !b.isEmpty {
            // §14.1.1: a last-pos below the first-pos makes the range invalid (compared as
            // written: both may have saturated).
            guard let l = position(b), !digitsLess(b, a) else { return .whole }
            last = min(l, size - 1)
        }
        return first < size ? .part(first: first, last: last) : .unsatisfiable
    }

    /// A run of ASCII digits as a number, `Int64.max` when it is larger; nil when it is empty
    /// or holds anything else.
    static func position(_ s: Substring) -> Int64? {
        guard !s.isEmpty else { return nil }
        var n: Int64 = 0
        for c in s.utf8 {
            guard c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") else { return nil }
            let (times10, o1) = n.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(Int64(c - UInt8(ascii: "0")))
            n = o1 || o2 ? .max : sum
        }
        return n
    }

    /// Whether the digits `x` spell a smaller number than the digits `y` (any length).
    static func digitsLess(_ x: Substring, _ y: Substring) -> Bool {
        let x = x.drop { $0 == "0" }, y = y.drop { $0 == "0" }
        return x.count != y.count ? x.count < y.count : x < y
    }

    /// Whether `Accept-Encoding` allows gzip (RFC 9110 §12.5.3: `gzip`, `x-gzip` or `*`, not with q=0).
    static func acceptsGzip(_ header: String?) -> Bool {
        guard let h = header else { return false }
        var star = false
        for item in h.lowercased().split(separator: ",") {
            let parts = item.split(separator: ";").map { $0.trimmingSpaces() }
            guard let coding = parts.first else { continue }
            var q = 1.0
            for p in parts.dropFirst() where p.hasPrefix("q=") { q = Double(p.dropFirst(2)) ?? 1 }
            if coding == "gzip" || coding == "x-gzip" { return q > 0 }
            if coding == "*" { star = q > 0 }
        }
        return star
    }

    /// Whether `If-None-Match` names `etag` (weak comparison, RFC 9110 §13.1.2) or is `*`.
    static func matches(ifNoneMatch header: String?, etag: String) -> Bool {
        guard let h = header else { return false }
        for item in h.split(separator: ",") {
            var t = item.trimmingSpaces()
            if t == "*" { return true }
            if t.hasPrefix("W/") { t = t.dropFirst(2) }
            if t == etag { return true }
        }
        return false
    }

    /// Percent-decodes a query value (`+` is a space); nil for bad escapes or invalid UTF-8.
    static func percentDecode(_ bytes: UnsafeRawBufferPointer) -> String? {
        var out: [UInt8] = []
        var i = 0
        while i < bytes.count {
            let c = bytes[i]
            if c == UInt8(ascii: "%") {
                guard i + 2 < bytes.count,
                      let v = UInt8(String(decoding: UnsafeRawBufferPointer(rebasing: bytes[(i + 1)...(i + 2)]), as: UTF8.self), radix: 16)
                else { return nil }
                out.append(v)
                i += 3
            } else {
                out.append(c == UInt8(ascii: "+") ? 32 : c)
                i += 1
            }
        }
        let s = String(decoding: out, as: UTF8.self)
        return Array(s.utf8) == out ? s : nil // decoding replaced invalid UTF-8
    }

    /// A file name an uploader may give: 1–255 bytes, no control characters, no path separators.
    static func validName(_ s: String) -> Bool {
        let n = s.utf8.count
        return n >= 1 && n <= 255 && s != "." && s != ".." && !s.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F || $0 == "/" || $0 == "\\" }
    }
}
