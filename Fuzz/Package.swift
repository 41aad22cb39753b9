// swift-tools-version:6.1
// libFuzzer targets for the parsers and validators that read remote input, built and run by
// scripts/fuzz.sh (release, -sanitize=fuzzer,address):
//
//     scripts/fuzz.sh json -runs=1000000
//
// A package of its own, so that building or testing the main package never builds these; the
// properties they check live in the main package's FuzzProperties (replayed by FuzzReplayTests).
import PackageDescription

let fuzzTargets = ["json", "canonical", "xmatrix", "identifiers", "pdu"]

let package = Package(
    name: "leave-worker-fuzz",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(name: "leave-worker", path: ".."),
    ],
    targets: [
        .target(name: "CLibFuzzer", path: "Driver/CLibFuzzer"),
        .target(
            name: "FuzzDriver",
            dependencies: ["CLibFuzzer", .product(name: "FuzzProperties", package: "leave-worker")],
            path: "Driver/FuzzDriver"
        ),
    ] + fuzzTargets.map { name in
        .executableTarget(
            name: "fuzz-\(name)",
            dependencies: ["FuzzDriver", .product(name: "FuzzProperties", package: "leave-worker")],
            path: "Targets/\(name)"
        )
    },
    swiftLanguageModes: [.v6]
)
