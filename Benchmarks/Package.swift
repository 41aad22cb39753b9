// swift-tools-version:6.1
// Micro-benchmarks of the leave worker's pure hot path (JSON, hashing, Ed25519, auth rules,
// X-Matrix), run in release mode with ordo-one/benchmark:
//
//     cd Benchmarks && swift package benchmark
//
// A package of its own, so that building or testing the main package never builds these.
import PackageDescription

let package = Package(
    name: "leave-worker-benchmarks",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(name: "leave-worker", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "LeavePDU",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "MatrixCore", package: "leave-worker"),
                .product(name: "MatrixCrypto", package: "leave-worker"),
                .product(name: "CSodium", package: "leave-worker"),
            ],
            path: "Benchmarks/LeavePDU",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
