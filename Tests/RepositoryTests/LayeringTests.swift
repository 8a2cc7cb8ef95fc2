import Foundation
import Testing

/// The layering rules of Sources/LAYERS.md hold for the tree, and the check that enforces
/// them (`.ci/layers`) fails when they are broken.
@Suite("Layering: Sources/LAYERS.md")
struct LayeringTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Runs `.ci/layers --root DIR` (bounded: 60 s) and returns its status and output.
    func check(_ dir: URL) throws -> (Int32, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", Self.root.appendingPathComponent(".ci/layers").path, "--root", dir.path]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        let watchdog = DispatchWorkItem { if p.isRunning { p.terminate() } }
        DispatchQueue.global().asyncAfter(deadline: .now() + 60, execute: watchdog)
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        watchdog.cancel()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// A copy of the parts of the tree the check reads.
    func copyOfTree() throws -> URL {
        let dir = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("layers-\(UUID().uuidString)")
        let fm = FileManager.default
        try fm.createDirectory(at: dir.appendingPathComponent("perf"), withIntermediateDirectories: true)
        for part in ["Sources", "Vendor", "perf/Sources"] {
            try fm.copyItem(at: Self.root.appendingPathComponent(part), to: dir.appendingPathComponent(part))
        }
        return dir
    }

    @Test func everyImportAndIncludeOfTheTreeIsAllowed() throws {
        let (status, output) = try check(Self.root)
        #expect(status == 0, "\(output)")
    }

    @Test func aCodecImportingTheReactorFailsTheCheckNamingFileAndRule() throws {
        let dir = try copyOfTree()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("Sources/PubSub/Planted.swift")
        try "import Foundation\n@testable import Reactor\n".write(to: file, atomically: true, encoding: .utf8)
        let (status, output) = try check(dir)
        #expect(status == 1)
        #expect(output.contains("Sources/PubSub/Planted.swift:1: PubSub imports Foundation"), "\(output)")
        #expect(output.contains("Sources/PubSub/Planted.swift:2: PubSub imports Reactor"), "\(output)")
    }

    @Test func aShimIncludingAnotherLibraryFailsTheCheck() throws {
        let dir = try copyOfTree()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("Vendor/CShimZlib/planted.c")
        try "#include <hiredis/hiredis.h>\n".write(to: file, atomically: true, encoding: .utf8)
        let (status, output) = try check(dir)
        #expect(status == 1)
        #expect(output.contains("Vendor/CShimZlib/planted.c:1: CShimZlib includes hiredis/hiredis.h (hiredis)"), "\(output)")
    }

    @Test func aModuleWithoutARuleFailsTheCheck() throws {
        let dir = try copyOfTree()
        defer { try? FileManager.default.removeItem(at: dir) }
        let module = dir.appendingPathComponent("Sources/Unruled")
        try FileManager.default.createDirectory(at: module, withIntermediateDirectories: true)
        try "struct X {}\n".write(to: module.appendingPathComponent("X.swift"), atomically: true, encoding: .utf8)
        let (status, output) = try check(dir)
        #expect(status == 1)
        #expect(output.contains("module Unruled has no row"), "\(output)")
    }
}
