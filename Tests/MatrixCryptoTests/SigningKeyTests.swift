import MatrixCore
import MatrixCrypto
import XCTest

/// Synapse key files, new keys, and old (retired) key files.
final class SigningKeyTests: XCTestCase {
    private let specSeed = "YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1"
    private let specPublicKey = "XGX0JRS2Af3be3knz2fBiRbApjm2Dh61gXDJA8kcJNI"
    private let otherSeed = "kbduY1nd9s91hRbT6glRYczcG3CuC/nFf6T1r5Avedw"

    func testSpecKeyFileLineGivesTheSpecPublicKey() throws {
        let keys = try SigningKey.parseKeyFile("ed25519 a_Abc1 \(specSeed)\n")
        XCTAssertEqual(keys.count, 1)
        XCTAssertEqual(keys[0].keyID, "ed25519:a_Abc1")
        XCTAssertEqual(keys[0].version, "a_Abc1")
        XCTAssertEqual(keys[0].publicKeyBase64, specPublicKey)
        // The spec's seed text has non-zero trailing bits; the line we write carries the canonical encoding.
        XCTAssertEqual(keys[0].keyFileLine, "ed25519 a_Abc1 \(Base64.encodeUnpadded(keys[0].privateKey.seed))")
        XCTAssertEqual(try SigningKey.parseKeyFile(keys[0].keyFileLine)[0].publicKeyBase64, specPublicKey)
    }

    func testAKeyPrintsNoSecretHoweverItIsPrinted() throws {
        let key = try SigningKey.parseKeyFile("ed25519 k \(specSeed)")[0]
        var dumped = ""
        dump(key, to: &dumped)
        let renderings = [String(describing: key), String(reflecting: key), "\(key.privateKey)", dumped,
                          String(reflecting: key.privateKey)]
        let secrets = [specSeed, Base64.encodeUnpadded(key.privateKey.seed), "\(key.privateKey.seed)",
                       key.privateKey.seed.prefix(4).map(String.init).joined(separator: ", ")]
        for rendering in renderings {
            XCTAssertTrue(rendering.contains(specPublicKey), rendering)
            for secret in secrets { XCTAssertFalse(rendering.contains(secret), rendering) }
        }
    }

    func testSeveralKeysInOrderWithCRLFTabsAndBlankLines() throws {
        let text = "\r\n  ed25519\tfirst  \(specSeed)\r\n\n\ted25519 second \(otherSeed)  \n\n"
        let keys = try SigningKey.parseKeyFile(text)
        XCTAssertEqual(keys.map(\.keyID), ["ed25519:first", "ed25519:second"])
        XCTAssertEqual(keys[0].publicKeyBase64, specPublicKey)
        XCTAssertEqual(keys[1].publicKeyBase64, "W4weJAiRmgpqXEA9GYWdcX4++Qt2WMlSWjICs6b+J0w")
    }

    func testPaddedAndURLSafeSeedsAreAccepted() throws {
        let urlSafe = String(otherSeed.map { $0 == "+" ? "-" : $0 == "/" ? "_" : $0 })
        for seed in [specSeed + "=", urlSafe] {
            XCTAssertEqual(try SigningKey.parseKeyFile("ed25519 k \(seed)").count, 1, seed)
        }
    }

    func testEachMalformedFileKindHasItsOwnClearError() throws {
        let cases: [(text: String, line: Int, reason: String)] = [
            ("ed25519 k", 1, "expected 3 fields `ed25519 <version> <seed>`, found 2"),
            ("ed25519 k \(specSeed) extra", 1, "expected 3 fields `ed25519 <version> <seed>`, found 4"),
            ("\ncurve25519 k \(specSeed)", 2, "field 1 must be the algorithm ed25519"),
            ("ED25519 k \(specSeed)", 1, "field 1 must be the algorithm ed25519"),
            ("ed25519 a-b \(specSeed)", 1, "field 2 (the key version) must match [a-zA-Z0-9_]+"),
            ("ed25519 é \(specSeed)", 1, "field 2 (the key version) must match [a-zA-Z0-9_]+"),
            ("ed25519 \(specSeed) k", 1, "field 2 (the key version) must match [a-zA-Z0-9_]+"),
            ("\(specSeed) ed25519 k", 1, "field 1 must be the algorithm ed25519"),
            ("ed25519 k \(specSeed.dropLast(3))!!!", 1, "the seed is not valid base64"),
            ("ed25519 k \(specSeed.dropLast(4))", 1, "the seed decodes to 29 bytes, expected 32"),
            ("ed25519 k \(specSeed)AAAA", 1, "the seed decodes to 35 bytes, expected 32"),
            ("ed25519 k \(specSeed)\ned25519 k \(otherSeed)", 2, "key ID ed25519:k appears more than once"),
        ]
        for (text, line, reason) in cases {
            XCTAssertThrowsError(try SigningKey.parseKeyFile(text), text) { error in
                XCTAssertEqual(error as? SigningKeyError, .malformedLine(line: line, reason: reason), text)
                XCTAssertFalse("\(error)".contains(specSeed.prefix(20)), "error message leaks the seed: \(error)")
            }
        }
    }

    func testAFileWithoutKeysIsRefused() {
        for text in ["", "\n\n", "  \r\n\t"] {
            XCTAssertThrowsError(try SigningKey.parseKeyFile(text)) { error in
                XCTAssertEqual(error as? SigningKeyError, .noKeys)
            }
        }
    }

    func testGeneratedKeysRoundTripThroughTheirKeyFileLine() throws {
        let first = try SigningKey.generate(version: "a_1")
        let second = try SigningKey.generate(version: "b")
        XCTAssertNotEqual(first.privateKey.seed, second.privateKey.seed)
        let parsed = try SigningKey.parseKeyFile(first.keyFileLine + "\n" + second.keyFileLine + "\n")
        XCTAssertEqual(parsed.map(\.keyID), ["ed25519:a_1", "ed25519:b"])
        XCTAssertEqual(parsed.map(\.privateKey.seed), [first.privateKey.seed, second.privateKey.seed])
        XCTAssertEqual(parsed.map(\.publicKey), [first.publicKey, second.publicKey])
        XCTAssertEqual(first.privateKey.seed.count, 32)
    }

    func testInvalidVersionsAreRefusedWhenGeneratingOrBuilding() throws {
        for version in ["", "a:b", "a b", "a-b", "ü"] {
            XCTAssertThrowsError(try SigningKey.generate(version: version)) { error in
                XCTAssertEqual(error as? SigningKeyError, .invalidVersion(version))
            }
            XCTAssertThrowsError(try SigningKey(version: version, seed: [UInt8](repeating: 1, count: 32)))
        }
        XCTAssertThrowsError(try SigningKey(version: "k", seed: [UInt8](repeating: 1, count: 31))) { error in
            XCTAssertEqual(error as? SigningKeyError, .library(.invalidKeyLength(31)))
        }
    }

    func testEd25519KeyIDRecognition() {
        XCTAssertTrue(SigningKey.isEd25519KeyID("ed25519:a"))
        XCTAssertTrue(SigningKey.isEd25519KeyID("ed25519:a_B9-x.~"))
        // Non-ASCII versions never name a key: `ed25519:\u{212A}` would be `==` to `ed25519:K`.
        for keyID in ["ed25519:", "ed25519", "curve25519:a", "ED25519:a", "", "ed25519:\u{212A}", "ed25519:\u{FF2B}",
                      "ed25519:caf\u{E9}", "ed25519:a b", "ed25519:a\u{0}"] {
            XCTAssertFalse(SigningKey.isEd25519KeyID(keyID), keyID)
        }
    }

    func testOldKeyFilesCarryExpiryAndThePublicKey() throws {
        let keys = try OldVerifyKey.parseKeyFile(
            "ed25519 old1 1699999999000 vdcr0BZYKpfbX5aqWT9lCyvYZ+/97TWMAlrykf9YRoU\ned25519 old2 5 \(specPublicKey)\n")
        XCTAssertEqual(keys.map(\.keyID), ["ed25519:old1", "ed25519:old2"])
        XCTAssertEqual(keys.map(\.expiredTS), [1_699_999_999_000, 5])
        XCTAssertEqual(try OldVerifyKey.parseKeyFile("ed25519 old3 9007199254740991 \(specPublicKey)").map(\.expiredTS),
                       [9_007_199_254_740_991])
        XCTAssertEqual(Base64.encodeUnpadded(keys[1].publicKey.bytes), specPublicKey)
        XCTAssertEqual(try OldVerifyKey.parseKeyFile("\n"), [])
        let retired = OldVerifyKey(retiring: try SigningKey.parseKeyFile("ed25519 k \(specSeed)")[0], expiredTS: 9)
        XCTAssertEqual(Base64.encodeUnpadded(retired.publicKey.bytes), specPublicKey)
        XCTAssertEqual(retired.keyID, "ed25519:k")
    }

    func testMalformedOldKeyFilesAreRefused() {
        let cases: [(String, String)] = [
            ("ed25519 old1 \(specPublicKey)", "expected 4 fields `ed25519 <version> <expired_ts> <public key>`, found 3"),
            ("ed25519 old1 soon \(specPublicKey)", "expired_ts \"soon\" is not a timestamp in ms"),
            ("ed25519 old1 -1 \(specPublicKey)", "expired_ts \"-1\" is not a timestamp in ms"),
            ("ed25519 old1 99999999999999999999 \(specPublicKey)", "expired_ts \"99999999999999999999\" is not a timestamp in ms"),
            // Beyond canonical JSON: the key document could not be signed (it was served empty).
            ("ed25519 old1 9007199254740992 \(specPublicKey)",
             "expired_ts \"9007199254740992\" is above 2^53 - 1, the largest integer canonical JSON carries"),
            ("ed25519 old1 9223372036854775807 \(specPublicKey)",
             "expired_ts \"9223372036854775807\" is above 2^53 - 1, the largest integer canonical JSON carries"),
            ("ed25519 old1 1 AAAA", "the public key decodes to 3 bytes, expected 32"),
        ]
        for (text, reason) in cases {
            XCTAssertThrowsError(try OldVerifyKey.parseKeyFile(text), text) { error in
                XCTAssertEqual(error as? SigningKeyError, .malformedLine(line: 1, reason: reason), text)
            }
        }
    }
}
