#if canImport(Glibc)
import Glibc
#endif

/// Readiness check of the artifact store: the directory exists (created if missing) and a
/// file can be created, written, synced and removed in it. Runs on the worker pool.
enum StoreProbe {
    /// nil when the store works, else what failed.
    static func check(_ dir: String) -> String? {
        if mkdir(dir, 0o755) != 0 && errno != EEXIST {
            return "cannot create \(dir): \(String(cString: strerror(errno)))"
        }
        let path = "\(dir)/.ready-probe-\(getpid())"
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return "\(dir) is not writable: \(String(cString: strerror(errno)))" }
        defer { close(fd); unlink(path) }
        let ok = write(fd, "ok", 2) == 2 && fsync(fd) == 0
        return ok ? nil : "\(dir) cannot be written: \(String(cString: strerror(errno)))"
    }
}
