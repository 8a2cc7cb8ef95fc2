import Foundation

/// The path of the package's executable `name` (e.g. "runwire", "runwire-bench") in the build
/// directory the running tests were built into, for tests that start it as a child process.
public func builtExecutable(_ name: String) -> String {
    let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
    // swift-testing runs from <bin>/runwirePackageTests.xctest; the executable sits beside it.
    if !FileManager.default.fileExists(atPath: dir.appendingPathComponent(name).path) {
        dir = dir.deletingLastPathComponent()
    }
    return dir.appendingPathComponent(name).path
}
