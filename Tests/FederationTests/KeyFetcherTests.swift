import Federation
import MatrixCore
import MatrixCrypto
import Testing

/// Key fetching and caching across layers: memory, Postgres shared by workers, the origin.
@Suite struct KeyFetcherTests {
    static let remoteKey = XMatrixAuthenticatorTests.remoteKey

    @Test func aKeyFetchedByOneWorkerIsUsedByAnotherWithoutFetching() async throws {
        try await FederationHarness.with(keys: .document(XMatrixAuthenticatorTests.remoteDocument())) { harness in
            let first = try await harness.fetcher.publicKey(server: "remote.test", keyID: "ed25519:rm1", use: .request(now: nowMS()))
            #expect(first == Self.remoteKey.publicKey)
            #expect(harness.remote.keyRequests == 1)
            let stored = try await harness.store.keys(server: "remote.test")
            #expect(stored.map(\.keyID) == ["ed25519:rm1"])

            try await harness.withSecondWorker { second in
                let key = try await second.publicKey(server: "remote.test", keyID: "ed25519:rm1", use: .request(now: nowMS()))
                #expect(key == Self.remoteKey.publicKey)
            }
            #expect(harness.remote.keyRequests == 1)
        }
    }

    @Test func concurrentVerificationsFromANewOriginFetchOnce() async throws {
        try await FederationHarness.with(
            keys: .slow(XMatrixAuthenticatorTests.remoteDocument(), delay: .milliseconds(200))
        ) { harness in
            let authenticator = XMatrixAuthenticator(serverName: "resident.test", keys: harness.fetcher)
            let request = try XMatrixAuthenticatorTests.SignedRequest()
            let origins = try await withThrowingTaskGroup(of: String.self) { group in
                for _ in 0..<200 {
                    group.addTask {
                        try await authenticator.authenticate(
                            method: request.method, target: request.target,
                            authorizationHeaders: request.authorization, content: request.content)
                    }
                }
                return try await group.reduce(into: [String]()) { $0.append($1) }
            }
            #expect(origins.count == 200)
            #expect(origins.allSatisfy { $0 == "remote.test" })
            #expect(harness.remote.keyRequests == 1)
        }
    }

    @Test func oldVerifyKeysAreOnlyForEventsSignedBeforeTheyExpired() async throws {
        let retired = try SigningKey(version: "old1", seed: Array(repeating: 3, count: 32))
        let expiredTS: Int64 = 1_700_000_000_000
        let document = try keyDocument(
            server: "remote.test", keys: [Self.remoteKey],
            oldKeys: [OldVerifyKey(retiring: retired, expiredTS: expiredTS)])
        try await FederationHarness.with(keys: .document(document)) { harness in
            let fetcher = harness.fetcher
            let before = try await fetcher.publicKey(
                server: "remote.test", keyID: "ed25519:old1",
                use: .event(originServerTS: expiredTS - 1, enforcesKeyValidity: true))
            #expect(before == retired.publicKey)
            let legacyRoom = try await fetcher.publicKey(
                server: "remote.test", keyID: "ed25519:old1",
                use: .event(originServerTS: expiredTS + 1, enforcesKeyValidity: false))
            #expect(legacyRoom == retired.publicKey)
            await #expect(throws: KeyFetchError.self) {
                try await fetcher.publicKey(server: "remote.test", keyID: "ed25519:old1",
                                            use: .event(originServerTS: expiredTS + 1, enforcesKeyValidity: true))
            }
            await #expect(throws: KeyFetchError.self) {
                try await fetcher.publicKey(server: "remote.test", keyID: "ed25519:old1", use: .request(now: nowMS()))
            }
            #expect(harness.remote.keyRequests == 1)
            let stored = try await harness.store.keys(server: "remote.test")
            #expect(stored.first { $0.keyID == "ed25519:old1" }?.expiredTS == expiredTS)
        }
    }

    @Test func anExpiredCachedKeyIsRefetched() async throws {
        var configuration = KeyFetcher.Configuration()
        configuration.minimumRefetchInterval = .zero
        try await FederationHarness.with(
            keys: .document(XMatrixAuthenticatorTests.remoteDocument(validUntil: nowMS() - 1000)),
            configuration: configuration
        ) { harness in
            await #expect(throws: KeyFetchError.self) {
                try await harness.fetcher.publicKey(server: "remote.test", keyID: "ed25519:rm1", use: .request(now: nowMS()))
            }
            harness.remote.setKeyBehaviour(.document(try XMatrixAuthenticatorTests.remoteDocument()))
            let key = try await harness.fetcher.publicKey(server: "remote.test", keyID: "ed25519:rm1", use: .request(now: nowMS()))
            #expect(key == Self.remoteKey.publicKey)
            #expect(harness.remote.keyRequests == 2)
            let stored = try await harness.store.keys(server: "remote.test")
            #expect(stored.first?.validUntilTS ?? 0 > nowMS())
        }
    }

    @Test func aServerThatRecoveredIsAskedAgainAfterTheBackOff() async throws {
        var configuration = KeyFetcher.Configuration()
        configuration.failureBackoff = .seconds(2)
        configuration.minimumRefetchInterval = .zero
        let clock = ManualClock()
        try await FederationHarness.with(keys: .status(503), configuration: configuration, clock: clock) { harness in
            for _ in 0..<3 {
                await #expect(throws: KeyFetchError.badResponse(server: "remote.test", reason: "HTTP status 503")) {
                    try await harness.fetcher.publicKey(server: "remote.test", keyID: "ed25519:rm1", use: .request(now: nowMS()))
                }
            }
            #expect(harness.remote.keyRequests == 1)
            harness.remote.setKeyBehaviour(.document(try XMatrixAuthenticatorTests.remoteDocument()))
            clock.advance(by: .milliseconds(1_999))
            await #expect(throws: KeyFetchError.badResponse(server: "remote.test", reason: "HTTP status 503"),
                          "still within the back-off: the remembered failure, no request") {
                try await harness.fetcher.publicKey(server: "remote.test", keyID: "ed25519:rm1", use: .request(now: nowMS()))
            }
            #expect(harness.remote.keyRequests == 1)
            clock.advance(by: .milliseconds(2))
            let key = try await harness.fetcher.publicKey(server: "remote.test", keyID: "ed25519:rm1", use: .request(now: nowMS()))
            #expect(key == Self.remoteKey.publicKey)
            #expect(harness.remote.keyRequests == 2)
        }
    }

    /// A document is valid when a key it lists has signed it (the spec; Synapse checks one
    /// signature): a request naming a listed key that did not sign fetches the document, finds the
    /// key, and the server's other requests go on. (The fetcher used to also require the named key
    /// among the signers: anyone could name such a key in a forged header, fail the fetch, and so
    /// keep every request of that server refused for the 30 s a failure is remembered.)
    @Test func aListedKeyThatDidNotSignDoesNotFailTheServersFetch() async throws {
        let spare = try SigningKey(version: "spare", seed: Array(repeating: 9, count: 32))
        let listed = try keyDocument(server: "remote.test", keys: [Self.remoteKey, spare])
        let signedByOne = try JSONSigning.sign(listed.removing("signatures"), entity: "remote.test", key: Self.remoteKey)
        var configuration = KeyFetcher.Configuration()
        configuration.minimumRefetchInterval = .zero
        try await FederationHarness.with(keys: .document(signedByOne), configuration: configuration) { harness in
            let named = try await harness.fetcher.publicKey(server: "remote.test", keyID: spare.keyID, use: .request(now: nowMS()))
            #expect(named == spare.publicKey)
            let real = try await harness.fetcher.publicKey(server: "remote.test", keyID: "ed25519:rm1", use: .request(now: nowMS()))
            #expect(real == Self.remoteKey.publicKey)
        }
    }
}
