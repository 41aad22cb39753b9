import MatrixCore
import MatrixCrypto
import XCTest

/// Every `event_signing` case of `Tests/Vectors/signing.json`, per room-version rules, and
/// tampering with any signed event value.
final class EventSigningVectorTests: XCTestCase {
    private struct Expectation {
        let description: String
        let key: SigningKey
        let entity: String
        let input: JSONObject
        let version: RoomVersion
        let result: JSONObject
    }

    private func expectations() throws -> [Expectation] {
        var all: [Expectation] = []
        for vector in try VectorFile.objects("event_signing", in: try VectorFile.load("signing")) {
            let byVersion = try VectorFile.object("expected_by_room_version_rules", in: vector)
            XCTAssertFalse(byVersion.isEmpty)
            for versionID in byVersion.keys {
                all.append(Expectation(
                    description: "\(try VectorFile.string("description", in: vector)) (v\(versionID))",
                    key: try VectorFile.signingKey(vector), entity: try VectorFile.string("server_name", in: vector),
                    input: try VectorFile.object("input", in: vector),
                    version: try XCTUnwrap(RoomVersion(versionID), "unknown room version \(versionID)"),
                    result: try VectorFile.object(versionID, in: byVersion)))
            }
        }
        return all
    }

    func testContentHashSignatureAndSignedEventMatchEveryVersion() throws {
        for expectation in try expectations() {
            let description = expectation.description
            let hash = Base64.encodeUnpadded(try EventHashing.contentHash(of: expectation.input))
            let expectedHash = try VectorFile.object("hashes", in: expectation.result)
            XCTAssertEqual(["sha256": .string(hash)], expectedHash, description)

            var hashed = expectation.input
            hashed["hashes"] = .object(expectedHash)
            let bytes = try EventHashing.redactedSigningBytes(of: hashed, version: expectation.version)
            XCTAssertEqual(String(decoding: bytes, as: UTF8.self),
                           try VectorFile.string("signing_input_canonical", in: expectation.result), description)
            let signature = Base64.encodeUnpadded(expectation.key.privateKey.signature(for: bytes))
            XCTAssertEqual(signature, try VectorFile.string("signature", in: expectation.result), description)
            let signed = JSONSigning.adding(signature: signature, entity: expectation.entity,
                                            keyID: expectation.key.keyID, to: hashed)
            XCTAssertEqual(signed, try VectorFile.object("signed", in: expectation.result), description)
        }
    }

    func testSignedEventsVerifyAndEveryOneCharacterChangeIsCaught() throws {
        var random = SeededRandom(seed: 0x5EED_0004)
        for expectation in try expectations() {
            let signed = try VectorFile.object("signed", in: expectation.result)
            XCTAssertTrue(verifies(signed, expectation), expectation.description)
            var checked = 0
            for _ in 0..<50 {
                // Only `unsigned` and `signatures` are outside what the hash and the signature cover.
                let covered = signed.removing("unsigned", "signatures")
                guard var changed = random.changingOneCharacter(in: .object(covered))?.objectValue else { continue }
                changed["unsigned"] = signed["unsigned"]
                changed["signatures"] = signed["signatures"]
                XCTAssertFalse(verifies(changed, expectation), "\(expectation.description): \(changed)")
                checked += 1
            }
            XCTAssertGreaterThan(checked, 40, expectation.description)
        }
    }

    /// A received event is accepted only if its content hash matches and the sender's signature
    /// verifies over the redacted event.
    private func verifies(_ event: JSONObject, _ expectation: Expectation) -> Bool {
        guard EventHashing.hasValidContentHash(event, version: expectation.version),
              let signature = event["signatures"]?[expectation.entity]?[expectation.key.keyID]?.stringValue,
              let bytes = try? EventHashing.redactedSigningBytes(of: event, version: expectation.version)
        else { return false }
        return JSONSigning.verify(signature: signature, over: bytes, publicKey: expectation.key.publicKey)
    }
}
