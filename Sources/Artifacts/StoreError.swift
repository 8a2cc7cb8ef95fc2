#if canImport(Glibc)
import Glibc
#endif

/// Why a store operation failed; the server turns it into a status and an error code.
public enum StoreError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The disk (or the process's file size limit) is full: 507.
    case insufficientStorage(String)
    /// Any other I/O failure: 500.
    case io(String)

    /// The message for logs and error bodies.
    public var description: String {
        switch self {
        case .insufficientStorage(let m), .io(let m): return m
        }
    }

    /// Classifies a failed call by `errno` (ENOSPC, EDQUOT and EFBIG mean "no room").
    static func from(errno e: Int32, _ what: String) -> StoreError {
        let text = "\(what): \(String(cString: strerror(e)))"
        if e == ENOSPC || e == EDQUOT || e == EFBIG { return .insufficientStorage(text) }
        return .io(text)
    }
}
