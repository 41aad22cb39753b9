import MatrixCore
import MatrixCrypto
import XCTest

/// Seeded random checks: signatures verify, and any change to what they cover breaks them.
final class JSONSigningPropertyTests: XCTestCase {
    private var key: SigningKey!

    override func setUp() async throws {
        key = try VectorFile.signingKey(try VectorFile.object("spec_appendix_key", in: try VectorFile.load("signing")))
    }

    func testSignThenVerifyOnRandomObjects() throws {
        var random = SeededRandom(seed: 0x5EED_0001)
        for round in 0..<200 {
            var object = random.object(depth: 3)
            if round.isMultiple(of: 3) { object["unsigned"] = random.value(depth: 1) }
            let signed = try JSONSigning.sign(object, entity: "origin.test", key: key)
            XCTAssertTrue(JSONSigning.verify(signed, entity: "origin.test", keyID: key.keyID, publicKey: key.publicKey),
                          "round \(round)")
            XCTAssertEqual(signed.removing("signatures"), object, "round \(round)")
            let reparsed = try XCTUnwrap(try JSONParser.parse(try JSONValue.object(signed).canonicalBytes()).objectValue)
            XCTAssertTrue(JSONSigning.verify(reparsed, entity: "origin.test", keyID: key.keyID, publicKey: key.publicKey),
                          "round \(round)")
        }
    }

    func testAnyOneByteChangeToTheSignedBytesFailsVerification() throws {
        var random = SeededRandom(seed: 0x5EED_0002)
        for round in 0..<20 {
            let object = random.object(depth: 2)
            let bytes = try JSONSigning.signingBytes(of: object)
            let signature = try JSONSigning.signature(of: object, key: key)
            XCTAssertTrue(JSONSigning.verify(signature: signature, over: bytes, publicKey: key.publicKey))
            for position in bytes.indices {
                var changed = bytes
                changed[position] ^= UInt8.random(in: 1...255, using: &random)
                XCTAssertFalse(JSONSigning.verify(signature: signature, over: changed, publicKey: key.publicKey),
                               "round \(round), byte \(position)")
            }
        }
    }

    func testAnyOneCharacterChangeOfASignedValueFailsVerification() throws {
        var random = SeededRandom(seed: 0x5EED_0003)
        for round in 0..<100 {
            let signed = try JSONSigning.sign(random.object(depth: 3), entity: "origin.test", key: key)
            guard let changed = random.changingOneCharacter(in: .object(signed.removing("signatures")))?.objectValue
            else { continue }
            var tampered = changed
            tampered["signatures"] = signed["signatures"]
            XCTAssertFalse(JSONSigning.verify(tampered, entity: "origin.test", keyID: key.keyID, publicKey: key.publicKey),
                           "round \(round)")
        }
    }
}
