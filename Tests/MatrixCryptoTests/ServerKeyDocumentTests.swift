import MatrixCore
import MatrixCrypto
import XCTest

/// `Tests/Vectors/keys.json` documents, invalid documents, and our own document.
final class ServerKeyDocumentTests: XCTestCase {
    private var file: JSONObject!

    override func setUp() async throws {
        file = try VectorFile.load("keys")
    }

    private func server(_ name: String) throws -> JSONObject {
        try VectorFile.object(name, in: try VectorFile.object("servers", in: file))
    }

    private func document(_ name: String) throws -> JSONObject {
        try VectorFile.object(name, in: try VectorFile.object("server_key_responses", in: file))
    }

    private func assertRefused(_ document: JSONObject, expectedServer: String = "remote.test",
                               _ expected: ServerKeyError, _ message: String = "", line: UInt = #line) {
        XCTAssertThrowsError(try ServerKeyDocument.verify(document, expectedServer: expectedServer), message, line: line) { error in
            XCTAssertEqual(error as? ServerKeyError, expected, message, line: line)
        }
    }

    func testEveryPublishedDocumentVerifiesWithItsKeys() throws {
        let documents = try VectorFile.object("server_key_responses", in: file)
        XCTAssertFalse(documents.isEmpty)
        let canonical = try VectorFile.object("signing_input_canonical", in: file)
        for name in documents.keys {
            let document = try self.document(name)
            let server = try server(name)
            let keyID = try VectorFile.string("key_id", in: server)
            XCTAssertEqual(try JSONSigning.signingBytes(of: document), Array(try VectorFile.string(name, in: canonical).utf8))
            XCTAssertTrue(JSONSigning.verify(document, entity: name, keyID: keyID, publicKey: try VectorFile.publicKey(server)))
            let verified = try ServerKeyDocument.verify(document, expectedServer: name)
            XCTAssertEqual(verified.serverName, name)
            XCTAssertEqual(verified.validUntilTS, 1_700_086_400_000)
            XCTAssertEqual(verified.verifyKeys, [keyID: try VectorFile.publicKey(server)])
        }
    }

    func testOldVerifyKeysComeWithTheirExpiry() throws {
        let verified = try ServerKeyDocument.verify(try document("resident.test"), expectedServer: "resident.test")
        let oldKey = try VectorFile.object("old_key", in: file)
        let entry = try XCTUnwrap(verified.oldVerifyKeys[try VectorFile.string("key_id", in: oldKey)])
        XCTAssertEqual(entry.key, try VectorFile.publicKey(oldKey))
        XCTAssertEqual(entry.expiredTS, try VectorFile.integer("expired_ts", in: oldKey))
        XCTAssertEqual(verified.oldVerifyKeys.count, 1)
    }

    func testInvalidDocumentsAreRefused() throws {
        let invalid = try VectorFile.objects("invalid", in: file)
        XCTAssertEqual(invalid.count, 3)
        let byReason = try Dictionary(uniqueKeysWithValues: invalid.map {
            (try VectorFile.string("reason", in: $0), try VectorFile.object("document", in: $0))
        })
        assertRefused(try XCTUnwrap(byReason["document changed after signing (valid_until_ts altered)"]),
                      .badSignature(keyID: "ed25519:rm1"))
        assertRefused(try XCTUnwrap(byReason["server_name differs from the server that was asked (asked remote.test)"]),
                      .wrongServer(expected: "remote.test", found: "evil.test"))
    }

    /// The vector's reason says the signature does not verify with the published key, but the document
    /// is validly self-signed: it publishes evil.test's key as remote.test's `ed25519:rm1` and is signed
    /// with it (checked independently with libsodium). No self-signature check can refuse it; what protects
    /// a fetcher is TLS to the real server, and a key so planted cannot verify what the real remote.test signs.
    func testTheForgedDocumentPublishesAKeyThatCannotVerifyTheRealServer() throws {
        let invalid = try VectorFile.objects("invalid", in: file)
        let forged = try XCTUnwrap(invalid.first { $0["reason"]?.stringValue?.hasSuffix("(forged)") == true })
        let verified = try ServerKeyDocument.verify(try VectorFile.object("document", in: forged), expectedServer: "remote.test")
        let planted = try XCTUnwrap(verified.verifyKeys["ed25519:rm1"])
        XCTAssertEqual(planted, try VectorFile.publicKey(try server("evil.test")))
        let remote = try VectorFile.signingKey(try server("remote.test"))
        let signedByRealServer = try JSONSigning.sign(["membership": "leave"], entity: "remote.test", key: remote)
        XCTAssertFalse(JSONSigning.verify(signedByRealServer, entity: "remote.test", keyID: "ed25519:rm1", publicKey: planted))
    }

    func testNotaryCountersignatureVerifiesWithTheNotarysKey() throws {
        let response = try VectorFile.object("response", in: try VectorFile.object("notary_query", in: file))
        let documents = try XCTUnwrap(response["server_keys"]?.arrayValue)
        let document = try XCTUnwrap(documents.first?.objectValue)
        XCTAssertNoThrow(try ServerKeyDocument.verify(document, expectedServer: "remote.test"))
        let notary = try server("notary.test")
        XCTAssertTrue(JSONSigning.verify(document, entity: "notary.test", keyID: "ed25519:nt1",
                                         publicKey: try VectorFile.publicKey(notary)))
    }

    /// A signature by any key the document lists makes it valid (the spec; Synapse checks one): the
    /// listed keys are the server's whichever signed this copy.
    func testASignatureByAnyListedKeyIsEnough() throws {
        let document = try document("remote.test")
        var withSpare = document
        var verifyKeys = try VectorFile.object("verify_keys", in: document)
        verifyKeys["ed25519:spare"] = ["key": "Gbb3YKUrSXwQCih+KFlvwC3BnMJSNHh2JKMQaNbN55c"]  // evil.test's public key
        withSpare["verify_keys"] = .object(verifyKeys)
        let evil = try VectorFile.signingKey(try server("evil.test"))
        var relabelled = withSpare
        relabelled["signatures"] = ["remote.test": ["ed25519:spare": .string(try JSONSigning.signature(of: withSpare, key: evil))]]
        let verified = try ServerKeyDocument.verify(relabelled, expectedServer: "remote.test")
        XCTAssertEqual(Set(verified.verifyKeys.keys), ["ed25519:rm1", "ed25519:spare"])
    }

    func testStructuralProblemsAreRefused() throws {
        let good = try document("remote.test")
        let cases: [(String, JSONValue?, ServerKeyError)] = [
            ("server_name", .none, .wrongServer(expected: "remote.test", found: nil)),
            ("server_name", 5, .wrongServer(expected: "remote.test", found: nil)),
            ("server_name", "Remote.test", .wrongServer(expected: "remote.test", found: "Remote.test")),
            ("valid_until_ts", .none, .malformed("valid_until_ts is missing or not an integer")),
            ("valid_until_ts", "1700086400000", .malformed("valid_until_ts is missing or not an integer")),
            ("valid_until_ts", .nonCanonicalNumber("1.5"), .malformed("valid_until_ts is missing or not an integer")),
            ("verify_keys", .none, .malformed("verify_keys is missing")),
            ("verify_keys", [], .malformed("verify_keys is not an object")),
            ("verify_keys", ["ed25519:rm1": ["key": "AAAA"]], .invalidKey(keyID: "ed25519:rm1")),
            ("verify_keys", ["ed25519:rm1": ["key": "not base64!"]], .invalidKey(keyID: "ed25519:rm1")),
            ("verify_keys", ["ed25519:rm1": "W4weJAiRmgpqXEA9GYWdcX4++Qt2WMlSWjICs6b+J0w"], .invalidKey(keyID: "ed25519:rm1")),
            ("verify_keys", ["ed25519:rm1": [:]], .invalidKey(keyID: "ed25519:rm1")),
            ("verify_keys", [:], .unsigned),
            ("old_verify_keys", "none", .malformed("old_verify_keys is not an object")),
            ("old_verify_keys", ["ed25519:o": ["key": "W4weJAiRmgpqXEA9GYWdcX4++Qt2WMlSWjICs6b+J0w"]],
             .malformed("old_verify_keys.ed25519:o has no integer expired_ts")),
            ("old_verify_keys", ["ed25519:o": ["expired_ts": 1, "key": "short"]], .invalidKey(keyID: "ed25519:o")),
            ("signatures", .none, .unsigned),
            ("signatures", ["remote.test": ["ed25519:nope": "c2ln"]], .unsigned),
        ]
        for (member, value, expected) in cases {
            var document = good
            document[member] = value
            assertRefused(document, expected)
        }
    }

    func testUnknownAlgorithmsAreSkippedNotRefused() throws {
        var document = try document("remote.test")
        var verifyKeys = try VectorFile.object("verify_keys", in: document)
        verifyKeys["curve25519:x"] = ["key": "whatever"]
        document["verify_keys"] = .object(verifyKeys)
        let remote = try VectorFile.signingKey(try server("remote.test"))
        let signed = try JSONSigning.sign(document.removing("signatures"), entity: "remote.test", key: remote)
        let verified = try ServerKeyDocument.verify(signed, expectedServer: "remote.test")
        XCTAssertEqual(Array(verified.verifyKeys.keys), ["ed25519:rm1"])
    }

    func testOldVerifyKeysMayBeAbsent() throws {
        let remote = try VectorFile.signingKey(try server("remote.test"))
        let document = try JSONSigning.sign(try document("remote.test").removing("signatures", "old_verify_keys"),
                                            entity: "remote.test", key: remote)
        let verified = try ServerKeyDocument.verify(document, expectedServer: "remote.test")
        XCTAssertTrue(verified.oldVerifyKeys.isEmpty)
        XCTAssertEqual(verified.verifyKeys, [remote.keyID: remote.publicKey])
    }

    func testOurOwnDocumentIsTheVectorDocumentAndVerifies() throws {
        let resident = try VectorFile.signingKey(try server("resident.test"))
        let oldKeyVector = try VectorFile.object("old_key", in: file)
        let oldKey = OldVerifyKey(keyID: try VectorFile.string("key_id", in: oldKeyVector),
                                  publicKey: try VectorFile.publicKey(oldKeyVector),
                                  expiredTS: try VectorFile.integer("expired_ts", in: oldKeyVector))
        let made = try ServerKeyDocument.make(serverName: "resident.test", keys: [resident], oldKeys: [oldKey],
                                              validUntil: 1_700_086_400_000)
        XCTAssertEqual(made, try document("resident.test"))

        let second = try SigningKey.generate(version: "rs2")
        let twoKeys = try ServerKeyDocument.make(serverName: "resident.test", keys: [resident, second], oldKeys: [],
                                                 validUntil: 1_700_086_400_000)
        for keyID in [resident.keyID, second.keyID] {
            XCTAssertTrue(JSONSigning.verify(twoKeys, entity: "resident.test", keyID: keyID,
                                             publicKey: keyID == resident.keyID ? resident.publicKey : second.publicKey))
            let verified = try ServerKeyDocument.verify(twoKeys, expectedServer: "resident.test")
            XCTAssertEqual(Set(verified.verifyKeys.keys), [resident.keyID, second.keyID])
        }
        XCTAssertThrowsError(try ServerKeyDocument.make(serverName: "resident.test", keys: [resident], oldKeys: [],
                                                        validUntil: .max))
    }

    func testOneBadSelfSignatureAmongGoodOnesIsRefused() throws {
        let resident = try VectorFile.signingKey(try server("resident.test"))
        let second = try SigningKey.generate(version: "rs2")
        var document = try ServerKeyDocument.make(serverName: "resident.test", keys: [resident, second], oldKeys: [],
                                                  validUntil: 1_700_086_400_000)
        let foreign = try XCTUnwrap(JSONSigning.signatures(of: try self.document("remote.test"), entity: "remote.test").first)
        document = JSONSigning.adding(signature: foreign.signature, entity: "resident.test", keyID: second.keyID, to: document)
        assertRefused(document, expectedServer: "resident.test", .badSignature(keyID: second.keyID))
    }

    /// Key IDs match byte for byte: a signature or key under `ed25519:\u{212A}1` (KELVIN SIGN) is not
    /// one of `ed25519:K1`, and never counts for it.
    func testKeyIDsThatOnlyLookEqualAreDifferentKeys() throws {
        let key = try SigningKey.generate(version: "K1")
        var document = try ServerKeyDocument.make(serverName: "resident.test", keys: [key], oldKeys: [],
                                                  validUntil: 1_700_086_400_000)
        let junk = Base64.encodeUnpadded([UInt8](repeating: 7, count: 64))
        document = JSONSigning.adding(signature: junk, entity: "resident.test", keyID: "ed25519:\u{212A}1", to: document)
        let verified = try ServerKeyDocument.verify(document, expectedServer: "resident.test")
        XCTAssertEqual(verified.verifyKeys, [key.keyID: key.publicKey])
        var onlyLookAlike = document
        onlyLookAlike["signatures"] = ["resident.test": ["ed25519:\u{212A}1": .string(junk)]]
        assertRefused(onlyLookAlike, expectedServer: "resident.test", .unsigned)
    }

    /// `valid_until_ts` and `expired_ts` at 0, −1, 2^53−1, 2^53, 2^63−1, −2^63: kept exactly while
    /// canonical JSON can carry them; beyond ±(2^53−1) the document has no canonical signed form (even
    /// signed as a server writing 64-bit integers in plain decimal would sign it) and is refused.
    func testTimestampsAtTheLimits() throws {
        let key = try SigningKey.generate(version: "lim")
        let retired = try SigningKey.generate(version: "old")
        for number: Int64 in [0, -1, 9_007_199_254_740_991, 9_007_199_254_740_992, .max, .min] {
            let document: JSONObject = [
                "server_name": "remote.test", "valid_until_ts": .integer(number),
                "verify_keys": [key.keyID: ["key": .string(key.publicKeyBase64)]],
                "old_verify_keys": [retired.keyID: ["key": .string(retired.publicKeyBase64), "expired_ts": .integer(number)]],
            ]
            if number.magnitude <= JSONValue.maxCanonicalInteger.magnitude {
                let verified = try ServerKeyDocument.verify(try JSONSigning.sign(document, entity: "remote.test", key: key),
                                                            expectedServer: "remote.test")
                XCTAssertEqual(verified.validUntilTS, number)
                XCTAssertEqual(verified.oldVerifyKeys[retired.keyID]?.expiredTS, number)
            } else {
                let signature = Base64.encodeUnpadded(key.privateKey.signature(for: document.compactBytes()))
                let signed = JSONSigning.adding(signature: signature, entity: "remote.test", keyID: key.keyID, to: document)
                assertRefused(signed, .malformed("document holds numbers canonical JSON cannot carry"), "\(number)")
            }
        }
    }
}
