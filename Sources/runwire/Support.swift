#if canImport(Glibc)
import Glibc
#endif

/// Writes straight to standard error (before logging is set up).
enum FileHandleStderr {
    static func write(_ s: String) {
        var s = s
        s.withUTF8 { b in _ = Glibc.write(2, b.baseAddress, b.count) }
    }
}

/// The process environment as a dictionary.
func environmentVariables() -> [String: String] {
    var out: [String: String] = [:]
    var p = environ
    while let entry = p.pointee {
        let s = String(cString: entry)
        if let eq = s.firstIndex(of: "=") { out[String(s[..<eq])] = String(s[s.index(after: eq)...]) }
        p += 1
    }
    return out
}

extension String {
    /// Reads a whole small file (the `.env`); nil when it does not exist.
    init?(contentsOfFile path: String) {
        guard let f = fopen(path, "r") else { return nil }
        defer { fclose(f) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = fread(&chunk, 1, chunk.count, f)
            if n <= 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
        }
        self = String(decoding: bytes, as: UTF8.self)
    }
}
