import MatrixCore
import MatrixCrypto
import Testing
@testable import WorkerApp

/// Our key document is signed at start: a document that could not be served right stops the
/// start with one line, instead of being served wrong.
struct ServerKeyPublisherTests {
    static let serverName = "resident.test"

    /// An `expired_ts` beyond 2^53 − 1 has no canonical JSON: the document could not be signed,
    /// and was served as a 200 with an empty body.
    @Test func aDocumentThatCannotBeSignedStopsTheStart() throws {
        let key = try SigningKey.generate(version: "rs1")
        let retired = try SigningKey.generate(version: "rs0")
        #expect(throws: Settings.Problem.self) {
            try ServerKeyPublisher(serverName: Self.serverName, keys: [key],
                                   oldKeys: [OldVerifyKey(retiring: retired, expiredTS: .max)], validitySeconds: 60)
        }
        let publisher = try ServerKeyPublisher(
            serverName: Self.serverName, keys: [key],
            oldKeys: [OldVerifyKey(retiring: retired, expiredTS: JSONValue.maxCanonicalInteger)], validitySeconds: 60)
        let document = try #require(try JSONParser.parse(publisher.currentDocument()).objectValue)
        let verified = try ServerKeyDocument.verify(document, expectedServer: Self.serverName)
        #expect(verified.oldVerifyKeys[retired.keyID]?.expiredTS == JSONValue.maxCanonicalInteger)
    }
}
