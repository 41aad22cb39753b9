import AsyncHTTPClient
import MatrixCore
import MatrixCrypto
import RemoteHomeserver
import XCTest

/// The key server: a verifiable document, request counting, stop and restart on the same port,
/// and transactions received with their X-Matrix signature checked.
final class SimulatedHomeserverTests: XCTestCase {
    private func fetchKeyDocument(_ server: SimulatedHomeserver, timeout: Duration = .seconds(10)) async throws
        -> (status: Int, document: JSONObject?)
    {
        let baseURL = try XCTUnwrap(server.baseURL)
        let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: baseURL + "/_matrix/key/v2/server"),
                                                           timeout: .init(timeout))
        let body = try await response.body.collect(upTo: 1 << 20)
        return (Int(response.status.code), try JSONParser.parse(body.readableBytesView).objectValue)
    }

    func testServesASelfSignedKeyDocumentThatVerifiesAndCountsRequests() async throws {
        let key = try SigningKey.generate(version: "sim1")
        let retired = try SigningKey.generate(version: "old1")
        let server = SimulatedHomeserver(
            serverName: "remote.test",
            keys: PublishedKeys(signing: key, old: [OldVerifyKey(retiring: retired, expiredTS: 1_600_000_000_000)],
                                validity: .seconds(600)))
        try await server.start()
        defer { Task { await server.stop() } }
        XCTAssertEqual(server.keyRequestCount, 0)

        let before = Int64(Date().timeIntervalSince1970 * 1000)
        let (status, document) = try await fetchKeyDocument(server)
        XCTAssertEqual(status, 200)
        XCTAssertTrue(JSONSigning.verify(try XCTUnwrap(document), entity: "remote.test", keyID: "ed25519:sim1",
                                         publicKey: key.publicKey))
        let verified = try ServerKeyDocument.verify(try XCTUnwrap(document), expectedServer: "remote.test")
        XCTAssertEqual(verified.verifyKeys["ed25519:sim1"], key.publicKey)
        XCTAssertEqual(verified.oldVerifyKeys["ed25519:old1"]?.key, retired.publicKey)
        XCTAssertEqual(verified.oldVerifyKeys["ed25519:old1"]?.expiredTS, 1_600_000_000_000)
        XCTAssertGreaterThanOrEqual(verified.validUntilTS, before + 600_000)
        XCTAssertLessThan(verified.validUntilTS, before + 660_000)
        XCTAssertThrowsError(try ServerKeyDocument.verify(try XCTUnwrap(document), expectedServer: "other.test"))

        _ = try await fetchKeyDocument(server)
        XCTAssertEqual(server.keyRequestCount, 2)
        await server.stop()
    }

    func testStopsAndRestartsOnTheSamePort() async throws {
        let server = SimulatedHomeserver(serverName: "remote.test", signingKey: try SigningKey.generate(version: "a"))
        let port = try await server.start()
        let first = try await fetchKeyDocument(server)
        XCTAssertEqual(first.status, 200)

        await server.stop()
        XCTAssertFalse(server.isRunning)
        do {
            // The client retries a refused connection until its deadline: keep that short.
            _ = try await fetchKeyDocument(server, timeout: .milliseconds(300))
            XCTFail("a stopped server answered")
        } catch {
            // connection refused: the server is down
        }

        let restartedPort = try await server.start()
        XCTAssertEqual(restartedPort, port)
        let second = try await fetchKeyDocument(server)
        XCTAssertEqual(second.status, 200)
        XCTAssertEqual(server.keyRequestCount, 2)
        await server.stop()
    }

    func testPublishingNewKeysChangesTheDocumentAndTheSigningKey() async throws {
        let first = try SigningKey.generate(version: "k1")
        let second = try SigningKey.generate(version: "k2")
        let server = SimulatedHomeserver(serverName: "remote.test", signingKey: first)
        try await server.start()
        server.publish(PublishedKeys(signing: second, old: [OldVerifyKey(retiring: first, expiredTS: 1)]))
        let fetched = try await fetchKeyDocument(server)
        let document = try XCTUnwrap(fetched.document)
        let verified = try ServerKeyDocument.verify(document, expectedServer: "remote.test")
        XCTAssertEqual(Array(verified.verifyKeys.keys), ["ed25519:k2"])
        XCTAssertEqual(server.signingKey.keyID, "ed25519:k2")
        XCTAssertEqual(server.eventSigner.key.keyID, "ed25519:k2")
        await server.stop()
    }

    func testTwoServersListenOnDifferentPorts() async throws {
        let one = SimulatedHomeserver(serverName: "one.test", signingKey: try SigningKey.generate(version: "a"))
        let two = SimulatedHomeserver(serverName: "two.test", signingKey: try SigningKey.generate(version: "a"))
        let portOne = try await one.start()
        let portTwo = try await two.start()
        XCTAssertNotEqual(portOne, portTwo)
        let documentOne = try await fetchKeyDocument(one).document
        let documentTwo = try await fetchKeyDocument(two).document
        XCTAssertEqual(documentOne?["server_name"], "one.test")
        XCTAssertEqual(documentTwo?["server_name"], "two.test")
        await one.stop()
        await two.stop()
    }

    func testReceivesTransactionsAndChecksTheirSignature() async throws {
        let remote = SimulatedHomeserver(serverName: "remote.test", signingKey: try SigningKey.generate(version: "r"))
        let residentKey = try SigningKey.generate(version: "w")
        try await remote.start()
        remote.trust(server: "resident.test", keyID: residentKey.keyID, publicKey: residentKey.publicKey)
        let pdu: JSONValue = ["event_id": "$a:resident.test", "type": "m.room.member"]
        let body: JSONValue = ["origin": "resident.test", "origin_server_ts": 1, "pdus": [pdu]]
        let signed = FederationRequester(origin: "resident.test", key: residentKey, destination: "remote.test",
                                         baseURL: try XCTUnwrap(remote.baseURL))
        let response = try await signed.request(method: "PUT", path: "/_matrix/federation/v1/send/txn%2F1",
                                                body: .json(body))
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.json?["pdus"]?["$a:resident.test"], .object(JSONObject()))

        let impostor = FederationRequester(origin: "resident.test", key: try SigningKey.generate(version: "w"),
                                           destination: "remote.test", baseURL: try XCTUnwrap(remote.baseURL))
        _ = try await impostor.request(method: "PUT", path: "/_matrix/federation/v1/send/2", body: .json(body))

        let received = remote.receivedTransactions
        XCTAssertEqual(received.map(\.transactionID), ["txn/1", "2"])
        XCTAssertEqual(received.map(\.isAuthenticated), [true, false])
        XCTAssertEqual(received.map(\.origin), ["resident.test", "resident.test"])
        XCTAssertEqual(received.first?.pdus, [try XCTUnwrap(pdu.objectValue)])
        XCTAssertEqual(remote.transactionCount, 2)
        await remote.stop()
    }
}
