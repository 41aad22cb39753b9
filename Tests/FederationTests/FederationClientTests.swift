import Federation
import MatrixCore
import MatrixCrypto
import Testing

/// Outgoing signed requests, checked by the receiving side's own authenticator.
@Suite struct FederationClientTests {
    @Test func signedRequestsAuthenticateAtTheReceiver() async throws {
        let residentKey = try XMatrixVectors.signingKey(of: "resident.test")
        let residentDocument = try keyDocument(server: "resident.test", keys: [residentKey])
        // The fake server plays both resident.test's key server and the receiving remote.test.
        try await FederationHarness.with(remoteName: "resident.test", keys: .document(residentDocument)) { harness in
            let transport = try FederationHarness.transport(overrides: ["remote.test": harness.remote.baseURL])
            let client = FederationClient(serverName: "resident.test", signingKey: residentKey, transport: transport)
            let body: JSONValue = .object(["pdus": .array([.object(["depth": .integer(3)])]), "origin": .string("resident.test")])
            let put = try await client.put("remote.test", target: "/_matrix/federation/v1/send/txn%2F1?a=b", body: body)
            let get = try await client.get("remote.test", target: "/_matrix/federation/v1/event/%24abc")
            // A body already written (the sender's transactions): signed over its bytes as sent.
            let encoded = try await client.put("remote.test", target: "/_matrix/federation/v1/send/2", encodedBody: body.compactBytes())
            try await transport.destinations.shutdown()
            #expect(put.status == 200 && get.status == 200 && encoded.status == 200)

            let received = harness.remote.receivedRequests
            try #require(received.count == 3)
            #expect(received.map(\.target) == ["/_matrix/federation/v1/send/txn%2F1?a=b", "/_matrix/federation/v1/event/%24abc",
                                                "/_matrix/federation/v1/send/2"])
            #expect(received.allSatisfy { $0.host == "remote.test" })
            let receiver = XMatrixAuthenticator(serverName: "remote.test", keys: harness.fetcher)
            for request in received {
                let content = request.body.isEmpty ? nil : try JSONParser.parse(request.body)
                let origin = try await receiver.authenticate(
                    method: request.method, target: request.target, authorizationHeaders: request.authorization,
                    content: content)
                #expect(origin == "resident.test")
            }
            #expect(try JSONParser.parse(received[0].body) == body)
            #expect(received[2].body == body.compactBytes())
        }
    }

    @Test func unreachableServersAndUnsignableBodiesAreTypedErrors() async throws {
        let transport = try FederationHarness.transport(overrides: ["down.test": "http://127.0.0.1:1"])
        let client = FederationClient(serverName: "resident.test", signingKey: try XMatrixVectors.signingKey(of: "resident.test"),
                                      transport: transport, timeout: .seconds(2))
        await #expect {
            try await client.get("down.test", target: "/_matrix/federation/v1/version")
        } throws: { error in
            if case .unreachable(server: "down.test", _) = error as? FederationRequestError { return true }
            return false
        }
        await #expect(throws: FederationRequestError.self) {
            try await client.put("down.test", target: "/x", body: .object(["f": .nonCanonicalNumber("1.5")]))
        }
        await #expect(throws: FederationRequestError.invalidServerName("bad name")) {
            try await client.get("bad name", target: "/x")
        }
        try await transport.destinations.shutdown()
    }
}
