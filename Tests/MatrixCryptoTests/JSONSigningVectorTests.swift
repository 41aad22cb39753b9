import MatrixCore
import MatrixCrypto
import XCTest

/// Every `json_signing` case of `Tests/Vectors/signing.json`.
final class JSONSigningVectorTests: XCTestCase {
    private func cases() throws -> [JSONObject] {
        try VectorFile.objects("json_signing", in: try VectorFile.load("signing"))
    }

    func testSigningInputIsTheCanonicalObjectWithoutSignaturesAndUnsigned() throws {
        for vector in try cases() {
            let description = try VectorFile.string("description", in: vector)
            let input = try VectorFile.object("input", in: vector)
            let expected = try VectorFile.string("signing_input_canonical", in: vector)
            XCTAssertEqual(try JSONSigning.signingBytes(of: input), Array(expected.utf8), description)
        }
    }

    func testSignatureAndSignedObjectMatchByteForByte() throws {
        for vector in try cases() {
            let description = try VectorFile.string("description", in: vector)
            let key = try VectorFile.signingKey(vector)
            XCTAssertEqual(key.publicKey, try VectorFile.publicKey(vector), description)
            let input = try VectorFile.object("input", in: vector)
            XCTAssertEqual(try JSONSigning.signature(of: input, key: key),
                           try VectorFile.string("signature", in: vector), description)
            let signed = try JSONSigning.sign(input, entity: try VectorFile.string("server_name", in: vector), key: key)
            XCTAssertEqual(signed, try VectorFile.object("signed", in: vector), description)
        }
    }

    func testSignedObjectsVerifyOnlyWithTheRightEntityKeyAndID() throws {
        let vectors = try cases()
        for vector in vectors {
            let description = try VectorFile.string("description", in: vector)
            let signed = try VectorFile.object("signed", in: vector)
            let entity = try VectorFile.string("server_name", in: vector)
            let keyID = try VectorFile.string("key_id", in: vector)
            let publicKey = try VectorFile.publicKey(vector)
            XCTAssertTrue(JSONSigning.verify(signed, entity: entity, keyID: keyID, publicKey: publicKey), description)
            XCTAssertFalse(JSONSigning.verify(signed, entity: entity + "x", keyID: keyID, publicKey: publicKey), description)
            XCTAssertFalse(JSONSigning.verify(signed, entity: entity, keyID: keyID + "x", publicKey: publicKey), description)
            let otherKeys = try vectors.map(VectorFile.publicKey).filter { $0 != publicKey }
            XCTAssertFalse(otherKeys.isEmpty)
            for other in otherKeys {
                XCTAssertFalse(JSONSigning.verify(signed, entity: entity, keyID: keyID, publicKey: other), description)
            }
        }
    }

    func testAddingUnsignedOrOtherSignaturesKeepsASignatureValid() throws {
        let vector = try cases()[1]
        let key = try VectorFile.signingKey(vector)
        var signed = try JSONSigning.sign(try VectorFile.object("input", in: vector), entity: "domain", key: key)
        signed["unsigned"] = ["age": 5]
        signed = JSONSigning.adding(signature: "c2ln", entity: "other.example", keyID: "ed25519:o", to: signed)
        XCTAssertTrue(JSONSigning.verify(signed, entity: "domain", keyID: key.keyID, publicKey: key.publicKey))
        XCTAssertEqual(JSONSigning.signatures(of: signed, entity: "other.example").map(\.keyID), ["ed25519:o"])
    }

    func testNestedSignaturesAndUnsignedAreSigned() throws {
        let key = try VectorFile.signingKey(try cases()[0])
        let object: JSONObject = ["content": ["signatures": "a", "unsigned": "b"]]
        let signed = try JSONSigning.sign(object, entity: "domain", key: key)
        XCTAssertEqual(try JSONSigning.signingBytes(of: signed),
                       Array(#"{"content":{"signatures":"a","unsigned":"b"}}"#.utf8))
        var changed = signed
        changed["content"] = ["signatures": "a", "unsigned": "c"]
        XCTAssertFalse(JSONSigning.verify(changed, entity: "domain", keyID: key.keyID, publicKey: key.publicKey))
    }

    func testMalformedSignaturesNeverVerify() throws {
        let vector = try cases()[1]
        let publicKey = try VectorFile.publicKey(vector)
        let signed = try VectorFile.object("signed", in: vector)
        let signature = try XCTUnwrap(JSONSigning.signatures(of: signed, entity: "domain").first?.signature)
        let malformed: [JSONValue] = [
            .integer(1), .string(""), .string("not base64!"), .string(String(signature.dropLast(2))),
            .string(signature + "AA"), ["ed25519:1": .string(signature)],
        ]
        for value in malformed {
            var object = signed
            object["signatures"] = ["domain": ["ed25519:1": value]]
            XCTAssertFalse(JSONSigning.verify(object, entity: "domain", keyID: "ed25519:1", publicKey: publicKey), "\(value)")
        }
        var notAnObject = signed
        notAnObject["signatures"] = "domain"
        XCTAssertFalse(JSONSigning.verify(notAnObject, entity: "domain", keyID: "ed25519:1", publicKey: publicKey))
        var floatInside = signed
        floatInside["one"] = .nonCanonicalNumber("1.0")
        XCTAssertFalse(JSONSigning.verify(floatInside, entity: "domain", keyID: "ed25519:1", publicKey: publicKey))
    }

    func testPaddedAndURLSafeSignaturesAreAccepted() throws {
        let vector = try cases()[1]
        let publicKey = try VectorFile.publicKey(vector)
        let signature = try VectorFile.string("signature", in: vector)
        let bytes = try JSONSigning.signingBytes(of: try VectorFile.object("input", in: vector))
        let urlSafe = String(signature.map { $0 == "+" ? "-" : $0 == "/" ? "_" : $0 })
        XCTAssertNotEqual(urlSafe, signature)
        for variant in [signature, signature + "==", urlSafe] {
            XCTAssertTrue(JSONSigning.verify(signature: variant, over: bytes, publicKey: publicKey), variant)
        }
    }
}
