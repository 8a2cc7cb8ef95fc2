#if canImport(Glibc)
import Glibc
#endif

/// Small blocking file helpers for the worker pool (never called on a loop thread).
enum FileIO {
    /// Writes all of `bytes` to `fd` (retrying short writes and EINTR).
    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, _ what: String) throws {
        var off = 0
        while off < bytes.count {
            let n = write(fd, bytes.baseAddress! + off, bytes.count - off)
            if n < 0 {
                if errno == EINTR { continue }
                throw StoreError.from(errno: errno, what)
            }
            off += n
        }
    }

    /// Reads up to `count` bytes into `buf`, retrying EINTR; 0 at end of file.
    static func read(_ fd: Int32, _ buf: UnsafeMutableRawPointer, _ count: Int) -> Int {
        var n: Int
        repeat { n = Glibc.read(fd, buf, count) } while n < 0 && errno == EINTR
        return n
    }

    /// The whole (small) file, or nil.
    static func readFile(_ path: String, limit: Int = 1 << 20) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var out = [UInt8](repeating: 0, count: 4096)
        var used = 0
        while true {
            if used == out.count {
                guard out.count < limit else { return nil }
                out.append(contentsOf: [UInt8](repeating: 0, count: out.count))
            }
            let n = out.withUnsafeMutableBytes { read(fd, $0.baseAddress! + used, $0.count - used) }
            if n < 0 { return nil }
            if n == 0 { break }
            used += n
        }
        return Array(out[0..<used])
    }

    /// Syncs a directory so a rename inside it survives a crash.
    static func syncDirectory(_ dir: String) {
        let fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        fsync(fd)
        close(fd)
    }

    /// Writes `text` to `path` atomically: a temp file in the same directory, fsync, rename.
    static func writeAtomically(_ text: String, to path: String, dir: String, tempName: String) throws {
        let temp = "\(dir)/\(tempName)"
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw StoreError.from(errno: errno, "cannot create \(temp)") }
        var t = text
        do {
            try t.withUTF8 { (b) throws in try writeAll(fd, UnsafeRawBufferPointer(b), "cannot write \(temp)") }
            guard fsync(fd) == 0 else { throw StoreError.from(errno: errno, "cannot sync \(temp)") }
        } catch {
            close(fd)
            unlink(temp)
            throw error
        }
        close(fd)
        guard rename(temp, path) == 0 else {
            let e = errno
            unlink(temp)
            throw StoreError.from(errno: e, "cannot rename \(temp)")
        }
        syncDirectory(dir)
    }

    /// Names in a directory (without `.` and `..`); empty when it cannot be read.
    static func list(_ dir: String) -> [String] {
        guard let d = opendir(dir) else { return [] }
        defer { closedir(d) }
        var out: [String] = []
        while let e = readdir(d) {
            let name = withUnsafePointer(to: e.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { out.append(name) }
        }
        return out
    }

    /// Size and modification time of a file, or nil.
    static func info(_ path: String) -> (size: Int64, mtime: Double)? {
        var st = stat()
        guard lstat(path, &st) == 0 else { return nil }
        return (Int64(st.st_size), Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) / 1e9)
    }
}
