import MatrixCore
import MatrixCrypto
import XCTest

/// Every `requests` and `header_parsing` case of `Tests/Vectors/x-matrix.json`.
final class XMatrixVectorTests: XCTestCase {
    private struct SignedRequest {
        let description, method, uri, origin, destination: String
        let content: JSONValue?
        let vector: JSONObject
    }

    private func requests() throws -> [SignedRequest] {
        try VectorFile.objects("requests", in: try VectorFile.load("x-matrix")).map { vector in
            let body = try XCTUnwrap(vector["body"], "request without body member")
            let content: JSONValue? = body == .null ? Optional.none : body
            return SignedRequest(
                description: try VectorFile.string("description", in: vector),
                method: try VectorFile.string("method", in: vector), uri: try VectorFile.string("uri", in: vector),
                origin: try VectorFile.string("origin", in: vector),
                destination: try VectorFile.string("destination", in: vector),
                content: content, vector: vector)
        }
    }

    func testSigningBytesAreTheSignedCanonicalJSON() throws {
        for request in try requests() {
            let bytes = try XMatrixRequest.signingBytes(method: request.method, uri: request.uri, origin: request.origin,
                                                        destination: request.destination, content: request.content)
            XCTAssertEqual(String(decoding: bytes, as: UTF8.self),
                           try VectorFile.string("signed_json_canonical", in: request.vector), request.description)
        }
    }

    func testOurHeaderIsTheVectorsHeaderByteForByte() throws {
        for request in try requests() {
            let key = try VectorFile.signingKey(request.vector)
            XCTAssertEqual(key.publicKey, try VectorFile.publicKey(request.vector), request.description)
            let header = try XMatrixRequest.authorizationHeader(
                method: request.method, uri: request.uri, origin: request.origin, destination: request.destination,
                content: request.content, key: key)
            XCTAssertEqual(header, try VectorFile.string("authorization", in: request.vector), request.description)
            let parsed = try XMatrixAuthorization.parse(header)
            XCTAssertEqual(parsed.signature, try VectorFile.string("signature", in: request.vector), request.description)
        }
    }

    func testBothHeaderStylesParseAndVerify() async throws {
        for request in try requests() {
            let publicKey = try VectorFile.publicKey(request.vector)
            let keyID = try VectorFile.string("key_id", in: request.vector)
            for style in ["authorization", "authorization_synapse_style"] {
                let header = try VectorFile.string(style, in: request.vector)
                let parsed = try XMatrixAuthorization.parse(header)
                XCTAssertEqual(parsed, XMatrixAuthorization(origin: request.origin, destination: request.destination,
                                                            keyID: keyID,
                                                            signature: try VectorFile.string("signature", in: request.vector)))
                let bytes = try XMatrixRequest.signingBytes(method: request.method, uri: request.uri, origin: parsed.origin,
                                                            destination: request.destination, content: request.content)
                XCTAssertTrue(XMatrixRequest.verify(signingBytes: bytes, authorization: parsed, publicKey: publicKey),
                              "\(request.description) (\(style))")
                let origin = try await XMatrixRequest.authenticate(
                    method: request.method, uri: request.uri, serverName: request.destination, content: request.content,
                    authorizationHeaders: ["Bearer abc", header]
                ) { origin, keyID in
                    origin == request.origin && keyID == parsed.keyID ? publicKey : nil
                }
                XCTAssertEqual(origin, request.origin, "\(request.description) (\(style))")
            }
        }
    }

    func testHeaderParsingCasesGiveSynapsesResults() throws {
        for vector in try VectorFile.objects("header_parsing", in: try VectorFile.load("x-matrix")) {
            let description = try VectorFile.string("description", in: vector)
            let header = try VectorFile.string("header", in: vector)
            let expected = try VectorFile.object("synapse_parse", in: vector)
            let synapse = expected["synapse"]?.stringValue ?? ""
            let result = Result { try XMatrixAuthorization.parseAll(headerValues: [header], serverName: "resident.test") }
            switch (expected["ok"]?.boolValue, result) {
            case (true, .success(let parsed)):
                XCTAssertEqual(parsed, [XMatrixAuthorization(
                    origin: try VectorFile.string("origin", in: expected),
                    destination: expected["destination"]?.stringValue,
                    keyID: try VectorFile.string("key", in: expected), signature: try VectorFile.string("sig", in: expected))],
                               description)
                XCTAssertNil(expected["then"], description)
            case (true, .failure(let error)):
                // Parses, then is refused for its destination.
                let parsed = try XMatrixAuthorization.parse(header)
                XCTAssertEqual(parsed.destination, expected["destination"]?.stringValue, description)
                XCTAssertEqual(parsed.origin, try VectorFile.string("origin", in: expected), description)
                XCTAssertEqual(error as? XMatrixError, .wrongDestination(try VectorFile.string("destination", in: expected)),
                               description)
                XCTAssertTrue(expected["then"]?.stringValue?.contains("Destination mismatch") == true, description)
            case (false, .failure(let error)):
                if synapse.contains("Missing Authorization") {
                    XCTAssertEqual(error as? XMatrixError, .missing, description)
                } else {
                    XCTAssertTrue(synapse.contains("Malformed Authorization header"), description)
                    guard case .malformed = error as? XMatrixError else { return XCTFail("\(description): \(error)") }
                    XCTAssertThrowsError(try XMatrixAuthorization.parse(header), description)
                }
            default:
                XCTFail("\(description): expected \(expected), got \(result)")
            }
        }
    }
}
