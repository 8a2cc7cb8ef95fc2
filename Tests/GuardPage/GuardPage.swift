#if canImport(Glibc)
import Glibc
#endif

/// Runs `body` on a copy of `input` that ends exactly where readable memory ends:
/// with Glibc the next page is PROT_NONE, so a one-byte over-read crashes the test
/// (picohttpparser's guard-page test); elsewhere it is an exact-size allocation.
public func withGuardedCopy<R>(_ input: [UInt8], _ body: (UnsafeRawBufferPointer) -> R) -> R {
    #if canImport(Glibc)
    let page = Int(sysconf(Int32(_SC_PAGESIZE)))
    let dataPages = (input.count + page - 1) / page + 1
    let total = (dataPages + 1) * page
    guard let region = mmap(nil, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
        region != MAP_FAILED
    else { fatalError("mmap failed") }
    defer { munmap(region, total) }
    let guardPage = region + dataPages * page
    precondition(mprotect(guardPage, page, PROT_NONE) == 0)
    let start = guardPage - input.count
    input.withUnsafeBytes { src in
        if let base = src.baseAddress { start.copyMemory(from: base, byteCount: input.count) }
    }
    return body(UnsafeRawBufferPointer(start: start, count: input.count))
    #else
    let storage = UnsafeMutableRawPointer.allocate(byteCount: max(input.count, 1), alignment: 1)
    defer { storage.deallocate() }
    input.withUnsafeBytes { src in
        if let base = src.baseAddress { storage.copyMemory(from: base, byteCount: input.count) }
    }
    return body(UnsafeRawBufferPointer(start: storage, count: input.count))
    #endif
}
