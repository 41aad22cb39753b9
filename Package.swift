// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "leave-worker",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "leave-worker", targets: ["leave-worker"]),
        // For the separate Benchmarks/ package (micro-benchmarks against libsodium's own verify).
        .library(name: "MatrixCore", targets: ["MatrixCore"]),
        .library(name: "MatrixCrypto", targets: ["MatrixCrypto"]),
        .library(name: "CSodium", targets: ["CSodium"]),
        // For the separate Fuzz/ package (libFuzzer targets); never a dependency of the server.
        .library(name: "FuzzProperties", targets: ["FuzzProperties"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
    ],
    targets: [
        // C libraries, each wrapped once: CLibPQ by Postgres, CSodium and COpenSSL by MatrixCrypto.
        .systemLibrary(name: "CLibPQ", path: "Sources/CLibPQ", providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "CSodium", path: "Sources/CSodium", providers: [.apt(["libsodium-dev"])]),
        .systemLibrary(name: "COpenSSL", path: "Sources/COpenSSL", providers: [.apt(["libssl-dev"])]),
        // libresolv, for SRV lookups in server discovery (Federation).
        .systemLibrary(name: "CResolv", path: "Sources/CResolv"),

        // A bounded least-recently-used map (O(1)), under every map keyed by remote data.
        .target(name: "BoundedCollections"),
        // Pure Matrix core: JSON, identifiers, room versions, PDUs, redaction, auth rules, ACLs.
        .target(name: "MatrixCore", dependencies: ["BoundedCollections"]),
        // Ed25519, SHA-256, signing keys, JSON and event signing, X-Matrix.
        .target(name: "MatrixCrypto", dependencies: ["MatrixCore", "CSodium", "COpenSSL"]),
        // A request's deadline, seen by every wait inside its work (a task-local).
        .target(name: "WorkDeadline"),
        // libpq connections and a Dispatch-queue pool.
        .target(name: "Postgres", dependencies: ["CLibPQ", "WorkDeadline"]),
        // Schema, migrations and the queries of the leave worker.
        .target(name: "Storage", dependencies: ["Postgres", "MatrixCore", "MatrixCrypto", "WorkDeadline"]),
        // X-Matrix verification, key fetching and caching, federation client.
        .target(name: "Federation", dependencies: [
            "BoundedCollections",
            "MatrixCore", "MatrixCrypto", "Storage", "Postgres", "CResolv", "WorkDeadline",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
        ]),
        // Whether a send_leave is accepted and what make_leave answers, as pure functions (no I/O).
        .target(name: "LeaveDecision", dependencies: ["MatrixCore", "MatrixCrypto"]),
        // make_leave, send_leave, event retrieval and room import: read → fetch keys → decide → write.
        .target(name: "LeaveService", dependencies: [
            "BoundedCollections", "LeaveDecision", "MatrixCore", "MatrixCrypto", "Storage", "Federation",
            .product(name: "Logging", package: "swift-log"),
        ]),
        // The federation sender: forwards the outbox's deliveries as X-Matrix-signed transactions.
        .target(name: "Forwarding", dependencies: [
            "Storage", "Postgres", "Federation", "MatrixCore", "MatrixCrypto",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
        ]),
        // The HTTP server and the configuration shared by all commands (no test doubles: the demo's
        // and the load generator's remote servers come in through the executable target).
        .target(name: "WorkerApp", dependencies: [
            "BoundedCollections",
            "MatrixCore", "MatrixCrypto", "Postgres", "Storage", "Federation", "LeaveDecision", "LeaveService", "WorkDeadline",
            "Forwarding",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdCore", package: "hummingbird"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),   // the passthrough (part homeserver)
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
        ]),
        // A remote homeserver played on loopback (rooms, keys, signed requests) for tests, demo and load.
        .target(name: "RemoteHomeserver", dependencies: [
            "MatrixCore", "MatrixCrypto",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // `leave-worker loadgen`: plays remote servers, imports rooms, drives leaves, checks storage.
        .target(name: "LoadGen", dependencies: [
            "RemoteHomeserver", "WorkerApp", "Storage", "Postgres", "Federation", "MatrixCore", "MatrixCrypto",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "Histogram", package: "hdrhistogram-swift"),
        ]),
        .executableTarget(name: "leave-worker", dependencies: [
            "WorkerApp", "RemoteHomeserver", "LoadGen", "MatrixCore", "MatrixCrypto",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // The properties the fuzz targets check, shared by Fuzz/ and FuzzReplayTests.
        .target(name: "FuzzProperties", dependencies: ["MatrixCore", "MatrixCrypto"]),

        // Helpers shared by the test targets: vector files, throwaway databases, server processes.
        .target(name: "TestSupport", dependencies: ["Postgres"], path: "Tests/TestSupport"),
        .testTarget(name: "WorkerTests", dependencies: [
            "RemoteHomeserver", "MatrixCore", "MatrixCrypto", "Postgres", "TestSupport",
        ]),
        .testTarget(name: "WorkerAppTests", dependencies: [
            "WorkerApp", "LeaveService", "Storage", "Forwarding", "MatrixCore", "MatrixCrypto", "RemoteHomeserver", "TestSupport", "WorkDeadline",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdTesting", package: "hummingbird"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // The vector files through the real decision and the real HTTP mapping: no database, no sockets.
        .testTarget(name: "LeaveDecisionTests", dependencies: [
            "LeaveDecision", "WorkerApp", "MatrixCore", "MatrixCrypto", "TestSupport",
        ]),
        .testTarget(name: "FuzzReplayTests", dependencies: ["FuzzProperties"]),
        .testTarget(name: "MatrixCoreTests", dependencies: ["MatrixCore", "TestSupport"]),
        .testTarget(name: "MatrixCryptoTests", dependencies: ["MatrixCore", "MatrixCrypto", "TestSupport"]),
        .testTarget(name: "MatrixCryptoEventTests", dependencies: ["MatrixCore", "MatrixCrypto", "TestSupport"]),
        .testTarget(name: "PostgresTests", dependencies: ["Postgres", "TestSupport", "WorkDeadline"]),
        .testTarget(name: "StorageTests", dependencies: ["Storage", "Postgres", "TestSupport", "WorkDeadline"]),
        .testTarget(name: "FederationTests", dependencies: [
            "BoundedCollections", "Federation", "MatrixCore", "MatrixCrypto", "Storage", "Postgres", "TestSupport",
            .product(name: "AsyncHTTPClient", package: "async-http-client"), .product(name: "Hummingbird", package: "hummingbird"),
        ]),
        .testTarget(name: "ForwardingTests", dependencies: [
            "Forwarding", "RemoteHomeserver", "Federation", "Storage", "MatrixCore", "MatrixCrypto", "Postgres", "TestSupport",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "LoadGenTests", dependencies: [
            "LoadGen", "WorkerApp", "Postgres", "Storage", "MatrixCore", "MatrixCrypto", "Federation", "RemoteHomeserver",
            "TestSupport",
        ]),
        .testTarget(name: "RemoteHomeserverTests", dependencies: ["RemoteHomeserver", "MatrixCore", "MatrixCrypto", "TestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
