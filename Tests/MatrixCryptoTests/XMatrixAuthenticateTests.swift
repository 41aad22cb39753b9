import MatrixCore
import MatrixCrypto
import XCTest

/// `XMatrixRequest.authenticate`: every way a request can fail authentication, and what passes.
final class XMatrixAuthenticateTests: XCTestCase {
    private struct LookupFailed: Error {}

    private let uri = "/_matrix/federation/v2/send_leave/%21a%3Ab/%24c?x=1"
    private let body: JSONValue = ["content": ["membership": "leave"], "depth": 12]
    private var remote: SigningKey!
    private var other: SigningKey!

    override func setUp() async throws {
        let servers = try VectorFile.object("servers", in: try VectorFile.load("x-matrix"))
        remote = try VectorFile.signingKey(try VectorFile.object("remote.test", in: servers))
        other = try VectorFile.signingKey(try VectorFile.object("resident.test", in: servers))
    }

    private func header(method: String = "PUT", uri: String? = nil, origin: String = "remote.test",
                        destination: String = "resident.test", content: JSONValue?? = .none,
                        key: SigningKey? = nil) throws -> String {
        try XMatrixRequest.authorizationHeader(method: method, uri: uri ?? self.uri, origin: origin,
                                               destination: destination, content: content ?? body, key: key ?? remote)
    }

    /// Authenticates a PUT of `body` to `uri` at resident.test, knowing only remote.test's key.
    private func authenticate(_ headers: [String], method: String = "PUT", uri: String? = nil,
                              content: JSONValue?? = .none) async throws -> String {
        let key = remote.publicKey
        return try await XMatrixRequest.authenticate(
            method: method, uri: uri ?? self.uri, serverName: "resident.test", content: content ?? body,
            authorizationHeaders: headers
        ) { origin, keyID in
            origin == "remote.test" && keyID == "ed25519:rm1" ? key : nil
        }
    }

    private func assertRefused(_ headers: [String], method: String = "PUT", uri: String? = nil, content: JSONValue?? = .none,
                               _ expected: XMatrixError, line: UInt = #line) async {
        do {
            let origin = try await authenticate(headers, method: method, uri: uri, content: content)
            XCTFail("authenticated as \(origin), expected \(expected)", line: line)
        } catch {
            XCTAssertEqual(error as? XMatrixError, expected, line: line)
        }
    }

    func testACorrectlySignedRequestAuthenticatesItsOrigin() async throws {
        let result = try await authenticate([try header()])
        XCTAssertEqual(result, "remote.test")
    }

    func testAHeaderWithoutDestinationIsCheckedAgainstOurName() async throws {
        let signed = try XMatrixAuthorization.parse(try header())
        let old = XMatrixAuthorization(origin: signed.origin, destination: nil, keyID: signed.keyID, signature: signed.signature)
        let result = try await authenticate([old.headerValue])
        XCTAssertEqual(result, "remote.test")
        let forElsewhere = try XMatrixAuthorization.parse(try header(destination: "elsewhere.test"))
        let stripped = XMatrixAuthorization(origin: "remote.test", destination: nil, keyID: forElsewhere.keyID,
                                            signature: forElsewhere.signature)
        await assertRefused([stripped.headerValue], .badSignature(origin: "remote.test", keyID: "ed25519:rm1"))
    }

    func testAnyChangeToWhatWasSignedIsABadSignature() async throws {
        let signed = try header()
        let bad = XMatrixError.badSignature(origin: "remote.test", keyID: "ed25519:rm1")
        await assertRefused([signed], content: .some(["content": ["membership": "leave"], "depth": 13]), bad)
        await assertRefused([signed], content: .some(nil), bad)
        await assertRefused([signed], uri: uri.replacingOccurrences(of: "x=1", with: "x=2"), bad)
        await assertRefused([signed], uri: uri.replacingOccurrences(of: "%21", with: "!"), bad)
        await assertRefused([signed], method: "POST", bad)
        await assertRefused([try header(key: other)].map { $0.replacingOccurrences(of: "ed25519:rs1", with: "ed25519:rm1") },
                            bad)
    }

    func testMissingMalformedAndMisdirectedHeaders() async throws {
        await assertRefused([], .missing)
        await assertRefused(["Bearer token"], .missing)
        await assertRefused(["X-Matrix origin=\"remote.test\",key=\"ed25519:rm1\""], .malformed("missing sig"))
        await assertRefused([try header(destination: "elsewhere.test")], .wrongDestination("elsewhere.test"))
    }

    func testUnknownKeysAndOtherAlgorithmsAreUnknownKeys() async throws {
        await assertRefused([try header(key: other)], .unknownKey(origin: "remote.test", keyID: "ed25519:rs1"))
        let signed = try XMatrixAuthorization.parse(try header())
        let curve = XMatrixAuthorization(origin: "remote.test", destination: "resident.test", keyID: "curve25519:rm1",
                                         signature: signed.signature)
        await assertRefused([curve.headerValue], .unknownKey(origin: "remote.test", keyID: "curve25519:rm1"))
    }

    func testOneValidSignatureAmongSeveralHeadersSuffices() async throws {
        let good = try header()
        let unknownKey = try header(key: other)
        let badSignature = try header(content: .some(["other": 1]))
        let result = try await authenticate([unknownKey, badSignature, good])
        XCTAssertEqual(result, "remote.test")
        await assertRefused([unknownKey, badSignature], .badSignature(origin: "remote.test", keyID: "ed25519:rm1"))
        await assertRefused([good, try header(origin: "evil.test")], .malformed("X-Matrix headers name different origins"))
    }

    func testKeyLookupErrorsPropagate() async throws {
        do {
            _ = try await XMatrixRequest.authenticate(
                method: "PUT", uri: uri, serverName: "resident.test", content: body, authorizationHeaders: [try header()]
            ) { (_, _) throws(LookupFailed) -> Ed25519PublicKey? in throw LookupFailed() }
            XCTFail("authenticated although the key lookup failed")
        } catch {
            XCTAssertTrue(error is LookupFailed, "\(error)")
        }
    }

    func testBodiesWithFloatsCannotBeVerified() async throws {
        let floatBody: JSONValue = ["depth": .nonCanonicalNumber("1.5")]
        XCTAssertThrowsError(try header(content: .some(floatBody))) { error in
            XCTAssertEqual(error as? CanonicalJSONError, .nonCanonicalNumber("1.5"))
        }
        await assertRefused([try header()], content: .some(["a": [["b": .nonCanonicalNumber("1e10")]]]),
                            .nonCanonicalBody("1e10"))
    }

    func testLargeIntegersOfOldRoomsAreSignedVerbatimAsSynapseDoes() async throws {
        let bigDepth: JSONValue = ["depth": .integer(1 << 60), "n": .integer(-(1 << 62))]
        let bytes = try XMatrixRequest.signingBytes(method: "PUT", uri: "/u", origin: "remote.test",
                                                    destination: "resident.test", content: bigDepth)
        XCTAssertEqual(String(decoding: bytes, as: UTF8.self),
                       #"{"content":{"depth":1152921504606846976,"n":-4611686018427387904},"destination":"resident.test","method":"PUT","origin":"remote.test","uri":"/u"}"#)
        let result = try await authenticate([try header(content: .some(bigDepth))], content: .some(bigDepth))
        XCTAssertEqual(result, "remote.test")
    }

    func testEvery64BitIntegerIsSignedAndVerifiedExactlyAndNothingLarger() async throws {
        for number: Int64 in [0, -1, 9_007_199_254_740_991, 9_007_199_254_740_992, .max, .min] {
            let content: JSONValue = ["depth": .integer(number), "content": ["n": [.integer(number)]]]
            let bytes = try XMatrixRequest.signingBytes(method: "PUT", uri: "/u", origin: "remote.test",
                                                        destination: "resident.test", content: content)
            XCTAssertTrue(String(decoding: bytes, as: UTF8.self).hasPrefix(#"{"content":{"content":{"n":[\#(number)]},"depth":\#(number)}"#))
            let result = try await authenticate([try header(content: .some(content))], content: .some(content))
            XCTAssertEqual(result, "remote.test", "\(number)")
        }
        for text in ["9223372036854775808", "-9223372036854775809"] {
            await assertRefused([try header()], content: .some(["depth": .nonCanonicalNumber(text)]), .nonCanonicalBody(text))
        }
    }
}
