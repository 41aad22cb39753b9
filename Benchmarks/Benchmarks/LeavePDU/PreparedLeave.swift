import CSodium
import MatrixCore
import MatrixCrypto

/// The fixture plus everything the benchmarks take as given (the parsed leave, its PDU), built
/// once per benchmark before its clock starts — and checked: every operation measured here is
/// first run once and must succeed with the expected result, so no figure is that of a failure.
struct PreparedLeave: Sendable {
    let fixture: LeaveFixture
    let verification: ReceivedLeaveVerification
    let parsedBody: JSONValue
    let pdu: PDU
    let signature: [UInt8]
    let publicKey: [UInt8]

    init() async throws(FixtureError) {
        let fixture = try LeaveFixture()
        self.fixture = fixture
        verification = ReceivedLeaveVerification(fixture: fixture)
        signature = fixture.leave.signature
        publicKey = fixture.originKey.publicKey.bytes
        do {
            parsedBody = try JSONParser.parse(fixture.leaveBody)
            pdu = try PDU(json: fixture.leave.json, roomVersion: fixture.version)
        } catch {
            throw FixtureError("leave body: \(error)")
        }
        try check()
        try await checkXMatrix()
    }

    /// libsodium's own verify on the leave's signature, without any wrapper.
    func sodiumVerify() -> Int32 {
        signature.withUnsafeBufferPointer { sig in
            fixture.leave.signingBytes.withUnsafeBufferPointer { message in
                publicKey.withUnsafeBufferPointer { key in
                    crypto_sign_verify_detached(sig.baseAddress!, message.baseAddress, UInt64(message.count), key.baseAddress!)
                }
            }
        }
    }

    /// The worker's X-Matrix check of the send_leave request, the origin's key held in memory.
    func authenticateRequest() async throws -> String {
        let key = fixture.originKey.publicKey
        return try await XMatrixRequest.authenticate(
            method: "PUT", uri: fixture.requestURI, serverName: LeaveFixture.resident, content: parsedBody,
            authorizationHeaders: [fixture.authorizationHeader], publicKey: { _, _ in key })
    }

    private func check() throws(FixtureError) {
        guard sodium_init() >= 0, sodiumVerify() == 0 else { throw FixtureError("libsodium refuses the signature") }
        guard fixture.originKey.publicKey.isValidSignature(signature, for: fixture.leave.signingBytes) else {
            throw FixtureError("Ed25519PublicKey refuses the signature")
        }
        guard fixture.originKey.privateKey.signature(for: fixture.leave.signingBytes) == signature else {
            throw FixtureError("signing is not deterministic")
        }
        let accepted = try verification.verify(body: fixture.leaveBody, eventID: fixture.leave.eventID,
                                               origin: LeaveFixture.origin)
        guard accepted.json == fixture.leave.json else { throw FixtureError("the accepted leave differs from the one sent") }
        guard (try? EventHashing.eventID(of: fixture.leave.json, version: fixture.version)) == fixture.leave.eventID else {
            throw FixtureError("event ID differs")
        }
        for bytes in fixture.storedEventsReadPerLeave {
            guard case .object(let json)? = try? JSONParser.parse(bytes),
                  (try? PDU(json: json, roomVersion: fixture.version)) != nil
            else { throw FixtureError("a stored event does not parse") }
        }
    }

    private func checkXMatrix() async throws(FixtureError) {
        do {
            guard try await authenticateRequest() == LeaveFixture.origin else { throw FixtureError("wrong origin") }
        } catch {
            throw FixtureError("X-Matrix: \(error)")
        }
    }
}
