import Federation
@testable import LoadGen
import MatrixCore
import MatrixCrypto
import RemoteHomeserver
import TestSupport
import XCTest

/// The played servers authenticate the transactions the resident server forwards to them, over
/// real HTTP, and only those.
final class PlayedServersTests: XCTestCase {
    func testAPlayedServerAuthenticatesTheResidentServersKeyOnly() async throws {
        let resident = EventSigner(serverName: "resident.test", key: try SigningKey.generate(version: "w1"))
        let baseURL = "http://127.0.0.1:\(WorkerProcess.freePort())"
        let played = try PlayedServers(overrides: try FederationOverrides.parse("remote1.test=\(baseURL)"), resident: resident)
        let server = try XCTUnwrap(played.servers.first)
        server.recordsTransactions = true
        try await played.start()
        do {
            let forger = try SigningKey.generate(version: "w1")
            for (number, key) in [resident.key, forger].enumerated() {
                let requester = FederationRequester(origin: resident.serverName, key: key, destination: server.serverName,
                                                    baseURL: baseURL)
                let body: JSONValue = ["origin": .string(resident.serverName), "origin_server_ts": 1, "pdus": []]
                let response = try await requester.request(method: "PUT", path: "/_matrix/federation/v1/send/t\(number)",
                                                           body: .json(body))
                XCTAssertEqual(response.status, 200)
            }
            let transactions = server.receivedTransactions
            XCTAssertEqual(transactions.map(\.transactionID), ["t0", "t1"])
            XCTAssertEqual(transactions.map(\.origin), [resident.serverName, resident.serverName])
            XCTAssertEqual(transactions.map(\.isAuthenticated), [true, false])
        } catch {
            await played.stop()
            throw error
        }
        await played.stop()
    }
}
