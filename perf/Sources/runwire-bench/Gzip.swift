import ArgumentParser
import Artifacts
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `runwire-bench gzip`: the server's trace compression (`GzipStream.deflate`, zlib through the
/// shim, 256 KiB chunks, file to sink) on N threads at once, each compressing the whole file,
/// for `perf/gzip-vs-gzip` to set against `gzip -N` on the same file.
struct Gzip: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Compress a file with the server's trace compressor on N threads; report MB/s.")
    @Option(help: "The file to compress (read from the page cache; output is counted, not kept).") var file: String
    @Option(help: "gzip level 1-9.") var level: Int = 9
    @Option(help: "Threads compressing the file at once (one copy each).") var threads: Int = 1
    @Flag(help: "One JSON object instead of a table.") var json = false

    func run() throws {
        guard (1...9).contains(level), threads >= 1 else { throw ValidationError("--level 1-9 and --threads >= 1") }
        var st = stat()
        guard stat(file, &st) == 0 else { throw ValidationError("cannot stat \(file)") }
        let size = Int64(st.st_size)
        let outputs = UnsafeMutablePointer<Int64>.allocate(capacity: threads)
        outputs.initialize(repeating: -1, count: threads)
        defer { outputs.deallocate() }
        let box = OutputSlots(outputs)
        let path = file, lvl = Int32(level)
        // One thread each, started together (like N `gzip` processes), joined at the end.
        let done = DispatchSemaphore(value: 0)
        let start = wallNow()
        for i in 0..<threads {
            Thread.detachNewThread {
                defer { done.signal() }
                let fd = open(path, O_RDONLY | O_CLOEXEC)
                guard fd >= 0 else { return }
                defer { close(fd) }
                let r = GzipStream.deflate(level: lvl, input: { buf, cap in read(fd, buf, cap) }, output: { _ in })
                if case .success(let n) = r { box.pointer[i] = n }
            }
        }
        for _ in 0..<threads { done.wait() }
        let seconds = wallNow() - start
        let compressed = outputs[0]
        guard (0..<threads).allSatisfy({ outputs[$0] >= 0 }) else { throw ValidationError("compression failed") }
        let mb = Double(size) / 1e6
        emit("gzip", [
            "file": file, "bytes": "\(size)", "compressedBytes": "\(compressed)", "level": "\(level)", "threads": "\(threads)",
            "seconds": String(format: "%.3f", seconds),
            "MBps": String(format: "%.1f", mb * Double(threads) / seconds),
            "MBpsPerThread": String(format: "%.1f", mb / seconds),
            "ratio": String(format: "%.4f", Double(compressed) / Double(max(size, 1))),
        ], json: json)
    }
}

/// Result slots written by the worker threads (one slot each, read after they joined).
private struct OutputSlots: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Int64>
    init(_ p: UnsafeMutablePointer<Int64>) { pointer = p }
}
