import Benchmark
import MatrixCore
import MatrixCrypto

/// The micro-benchmarks of one received ~1 KB leave PDU (room version 10), each the worker's own
/// code on the fixture's bytes. Figures are per operation: every sample runs 1,000 operations.
/// (No CPU-time metric: its 10 ms ticks are too coarse for these samples; read the wall clock's
/// p0, the least disturbed sample, on a busy machine.)
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .mallocCountTotal, .throughput],
        warmupIterations: 3, scalingFactor: .kilo, maxDuration: .seconds(4), maxIterations: 1_000)

    let bodySize = (try? LeaveFixture()).map { "\($0.leaveBody.count) bytes" } ?? "no fixture"
    measure("JSON parse (leave body, \(bodySize))") { try JSONParser.parse($0.fixture.leaveBody) }
    measure("PDU format checks") { try PDU(json: $0.fixture.leave.json, roomVersion: $0.fixture.version) }
    measure("Canonical encode (leave)") { try $0.fixture.leave.json.canonicalBytes() }
    measure("Content hash") { try EventHashing.contentHash(of: $0.fixture.leave.json, version: $0.fixture.version) }
    measure("Reference hash (redact + encode + SHA-256)") {
        try EventHashing.referenceHash(of: $0.fixture.leave.json, version: $0.fixture.version)
    }
    measure("Event ID") { try EventHashing.eventID(of: $0.fixture.leave.json, version: $0.fixture.version) }
    measure("Auth rules (auth events + current state)") {
        try AuthRules.check($0.pdu, authEvents: $0.fixture.events, signatures: NoAuthSignatures())
        try AuthRules.check($0.pdu, against: $0.fixture.state, signatures: NoAuthSignatures())
    }
    measure("Ed25519 verify (Ed25519PublicKey)") {
        $0.fixture.originKey.publicKey.isValidSignature($0.signature, for: $0.fixture.leave.signingBytes)
    }
    measure("Ed25519 verify (libsodium crypto_sign_verify_detached)") { $0.sodiumVerify() }
    measure("Ed25519 sign") { $0.fixture.originKey.privateKey.signature(for: $0.fixture.leave.signingBytes) }
    measure("Verify received leave: whole step") {
        try $0.verification.verify(body: $0.fixture.leaveBody, eventID: $0.fixture.leave.eventID,
                                   origin: LeaveFixture.origin)
    }
    measure("Verify received leave: all but Ed25519 (pure work)") {
        try $0.verification.verify(body: $0.fixture.leaveBody, eventID: $0.fixture.leave.eventID,
                                   origin: LeaveFixture.origin, checkSignature: false)
    }
    measure("X-Matrix: header parse + signing bytes (pure work)") {
        let authorization = try XMatrixAuthorization.parseAll(
            headerValues: [$0.fixture.authorizationHeader], serverName: LeaveFixture.resident)
        return try XMatrixRequest.signingBytes(
            method: "PUT", uri: $0.fixture.requestURI, origin: authorization[0].origin,
            destination: LeaveFixture.resident, content: $0.parsedBody)
    }
    Benchmark("X-Matrix: request verification, key in memory", closure: { benchmark, prepared in
        for _ in benchmark.scaledIterations { blackHole(try await prepared.authenticateRequest()) }
    }, setup: { try await PreparedLeave() })
    // What the worker's parsed-event cache saves a send_leave on a hit.
    measure("Stored events: parse the 6 a send_leave reads, uncached") { prepared in
        try prepared.fixture.storedEventsReadPerLeave.map { bytes in
            guard case .object(let json) = try JSONParser.parse(bytes) else { throw FixtureError("not an object") }
            return try PDU(json: json, roomVersion: prepared.fixture.version)
        }
    }
}

/// Registers a benchmark that runs `operation` on a fresh ``PreparedLeave`` (built and checked
/// before the clock starts); a thrown error fails the benchmark.
private func measure<Result>(_ name: String, _ operation: @escaping (PreparedLeave) throws -> Result) {
    Benchmark(name, closure: { benchmark, prepared in
        for _ in benchmark.scaledIterations { blackHole(try operation(prepared)) }
    }, setup: { try await PreparedLeave() })
}
