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

    /// Synapse reads `old_verify_keys` after `verify_keys`, by key ID: a current key listed as old
    /// would count as expired at remote Synapses, which would refuse every request we sign. Such an
    /// old-keys file is refused at start, whether it repeats the key ID or the public key.
    @Test func anOldKeyThatIsACurrentKeyStopsTheStart() throws {
        let key = try SigningKey.generate(version: "rs1")
        let second = try SigningKey.generate(version: "rs2")
        let retired = try SigningKey.generate(version: "rs0")
        let clashes = [
            OldVerifyKey(retiring: second, expiredTS: 5),
            OldVerifyKey(keyID: retired.keyID, publicKey: key.publicKey, expiredTS: 5),
            OldVerifyKey(keyID: key.keyID, publicKey: retired.publicKey, expiredTS: 5),
        ]
        for old in clashes {
            do {
                _ = try ServerKeyPublisher(serverName: Self.serverName, keys: [key, second], oldKeys: [old], validitySeconds: 60)
                Issue.record("\(old.keyID) was accepted as old beside the current keys")
            } catch {
                let message = "\(error)"
                #expect(message.contains("LEAVE_WORKER_OLD_SIGNING_KEYS") && message.contains(old.keyID), "\(message)")
                #expect(!message.contains("\n"))
            }
        }
        _ = try ServerKeyPublisher(serverName: Self.serverName, keys: [key, second],
                                   oldKeys: [OldVerifyKey(retiring: retired, expiredTS: 5)], validitySeconds: 60)
    }
}
