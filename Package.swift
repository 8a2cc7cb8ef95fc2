// swift-tools-version:6.0
// Runwire: a real-time backbone for test-automation platforms.
// Layers depend in one direction (Sources/LAYERS.md, checked by the test suite):
// C shims → Reactor → (HTTP1, WebSocket, PubSub: no I/O) → Server → runwire.
import PackageDescription

/// Release builds of the hot modules drop dynamic exclusivity checks: they cost measurable
/// instructions per request (debug builds keep them).
let hotSwiftSettings: [SwiftSetting] = [
    .unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release)),
]

let package = Package(
    name: "runwire",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "runwire", targets: ["runwire"]),
        .executable(name: "runwire-bench", targets: ["runwire-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
    ],
    targets: [
        // System libraries from Debian (module maps only; Swift never imports them directly).
        .systemLibrary(name: "CLibev", path: "Vendor/CLibev"),
        .systemLibrary(name: "CHiredis", path: "Vendor/CHiredis"),
        .systemLibrary(name: "CZlib", path: "Vendor/CZlib"),
        .systemLibrary(name: "COpenSSL", path: "Vendor/COpenSSL"),
        // The C door, one shim per library (Sources/LAYERS.md says which module may import which):
        // each wraps the macros and variadic calls Swift cannot make.
        .target(name: "CShimLoop", dependencies: ["CLibev"], path: "Vendor/CShimLoop", cSettings: [.unsafeFlags(["-O2"])],
                linkerSettings: [.linkedLibrary("ev")]),
        .target(name: "CShimSys", path: "Vendor/CShimSys", cSettings: [.unsafeFlags(["-O2"])]),
        .target(name: "CShimZlib", dependencies: ["CZlib"], path: "Vendor/CShimZlib", cSettings: [.unsafeFlags(["-O2"])],
                linkerSettings: [.linkedLibrary("z")]),
        .target(name: "CShimCrypto", dependencies: ["COpenSSL"], path: "Vendor/CShimCrypto", cSettings: [.unsafeFlags(["-O2"])],
                linkerSettings: [.linkedLibrary("crypto"), .linkedLibrary("ssl")]),
        .target(name: "CShimRedis", dependencies: ["CHiredis", "CLibev", "CShimLoop"], path: "Vendor/CShimRedis",
                cSettings: [.unsafeFlags(["-O2"])], linkerSettings: [.linkedLibrary("hiredis")]),
        .target(name: "Reactor", dependencies: ["CShimLoop", "CShimSys"], swiftSettings: hotSwiftSettings),
        .target(name: "HTTP1", swiftSettings: hotSwiftSettings),
        .target(name: "WebSocket", dependencies: ["CShimZlib", "CShimCrypto"], swiftSettings: hotSwiftSettings),
        .target(name: "PubSub", swiftSettings: hotSwiftSettings),
        // Counters, gauges and the Prometheus text every part registers with.
        .target(name: "Metrics", swiftSettings: hotSwiftSettings),
        .target(name: "RedisBridge", dependencies: ["Reactor", "CShimRedis", "CShimCrypto"]),
        // The artifact store, signed URLs, trace compression and retention (blocking disk I/O; no sockets).
        .target(name: "Artifacts", dependencies: ["CShimZlib", "CShimCrypto"]),
        .target(
            name: "Server",
            dependencies: ["Reactor", "HTTP1", "WebSocket", "PubSub", "Metrics", "RedisBridge", "Artifacts", "CShimCrypto", "CShimSys", .product(name: "Logging", package: "swift-log")],
            swiftSettings: hotSwiftSettings
        ),
        .executableTarget(
            name: "runwire",
            dependencies: [
                "Server",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Load clients, built on the same reactor and WebSocket code (sources under perf/).
        .executableTarget(
            name: "runwire-bench",
            dependencies: ["Reactor", "WebSocket", "CShimSys", "CShimCrypto", "Artifacts", "RedisBridge", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "perf/Sources/runwire-bench",
            swiftSettings: hotSwiftSettings
        ),
        // Test helper shared by the parser tests: inputs placed right before a PROT_NONE page.
        .target(name: "GuardPage", path: "Tests/GuardPage"),
        // Test helpers shared by test targets: a real redis-server, the path of a built executable.
        .target(name: "RedisServerSupport", path: "Tests/RedisServerSupport"),
        // The repository's own rules (Sources/LAYERS.md), checked by .ci/layers.
        .testTarget(name: "RepositoryTests"),
        .testTarget(name: "HTTP1Tests", dependencies: ["HTTP1", "GuardPage"]),
        .testTarget(name: "ReactorTests", dependencies: ["Reactor"]),
        .testTarget(name: "WebSocketTests", dependencies: ["WebSocket"]),
        .testTarget(name: "PubSubTests", dependencies: ["PubSub", "GuardPage"]),
        .testTarget(name: "MetricsTests", dependencies: ["Metrics"]),
        .testTarget(name: "ArtifactsTests", dependencies: ["Artifacts", "CShimCrypto"]),
        .testTarget(name: "RedisBridgeTests", dependencies: ["RedisBridge", "Reactor", "RedisServerSupport"]),
        .testTarget(name: "BenchTests", dependencies: ["runwire-bench", "Server", "RedisServerSupport", .product(name: "Logging", package: "swift-log"), .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .testTarget(name: "ServerTests", dependencies: ["Server", "Artifacts", "WebSocket", "CShimCrypto", "CShimZlib", "RedisBridge", "runwire", "RedisServerSupport"], exclude: ["Scripts"]),
    ]
)
