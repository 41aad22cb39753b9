import Federation
import MatrixCore
import MatrixCrypto
import Testing

/// X-Matrix authentication end to end: a real Postgres, a real HTTP server playing `remote.test`
/// (serving a key document made with the project's own signing code), requests from the vectors.
@Suite struct XMatrixAuthenticatorTests {
    static let remoteKey = try! XMatrixVectors.signingKey(of: "remote.test")
    static let evilKey = try! SigningKey(version: "ev1", seed: Array(repeating: 7, count: 32))

    /// The document `remote.test` publishes.
    static func remoteDocument(validUntil: Int64 = nowMS() + 3_600_000) throws -> JSONObject {
        try keyDocument(server: "remote.test", keys: [remoteKey], validUntil: validUntil)
    }

    /// A request signed by `remote.test` for `resident.test`.
    struct SignedRequest {
        var method = "PUT"
        var target = "/_matrix/federation/v2/send_leave/%21room%3Aresident.test/%24event?x=1"
        var content: JSONValue? = .object(["membership": .string("leave"), "depth": .integer(12)])
        var authorization: [String]

        init(key: SigningKey = remoteKey, destination: String = "resident.test") throws {
            authorization = []
            authorization = [try XMatrixRequest.authorizationHeader(
                method: method, uri: target, origin: "remote.test", destination: destination,
                content: content, key: key)]
        }
    }

    func authenticate(_ request: SignedRequest, with fetcher: KeyFetcher) async throws(XMatrixAuthenticationError) -> String {
        try await XMatrixAuthenticator(serverName: "resident.test", keys: fetcher).authenticate(
            method: request.method, target: request.target, authorizationHeaders: request.authorization,
            content: request.content)
    }

    /// Runs `request` and returns the error it must fail with.
    func failure(_ request: SignedRequest, with fetcher: KeyFetcher) async -> XMatrixAuthenticationError? {
        do {
            _ = try await authenticate(request, with: fetcher)
            return nil
        } catch {
            return error
        }
    }

    @Test func vectorRequestsAuthenticateAndMatchTheVectorHeaders() async throws {
        try await FederationHarness.with(keys: .document(Self.remoteDocument())) { harness in
            let authenticator = XMatrixAuthenticator(serverName: "resident.test", keys: harness.fetcher)
            #expect(XMatrixVectors.requests.count >= 10)
            for vector in XMatrixVectors.requests {
                let method = try #require(vector["method"]?.stringValue)
                let uri = try #require(vector["uri"]?.stringValue)
                let body = vector["body"] == .null ? nil : vector["body"]
                let expected = try #require(vector["authorization"]?.stringValue)
                let header = try XMatrixRequest.authorizationHeader(
                    method: method, uri: uri, origin: "remote.test", destination: "resident.test",
                    content: body, key: Self.remoteKey)
                #expect(header == expected, "\(vector["description"]?.stringValue ?? uri)")
                for value in [expected, try #require(vector["authorization_synapse_style"]?.stringValue)] {
                    let origin = try await authenticator.authenticate(
                        method: method, target: uri, authorizationHeaders: [value], content: body)
                    #expect(origin == "remote.test")
                }
            }
            #expect(harness.remote.keyRequests == 1)
        }
    }

    @Test func credentialProblemsAreRefused() async throws {
        try await FederationHarness.with(keys: .document(Self.remoteDocument())) { harness in
            var missing = try SignedRequest()
            missing.authorization = ["Bearer abc"]
            #expect(await failure(missing, with: harness.fetcher) == .refused(.missing))

            var none = try SignedRequest()
            none.authorization = []
            #expect(await failure(none, with: harness.fetcher) == .refused(.missing))

            var malformed = try SignedRequest()
            malformed.authorization = [#"X-Matrix origin="remote.test",key="ed25519:rm1""#]
            guard case .refused(.malformed) = await failure(malformed, with: harness.fetcher) else {
                Issue.record("a header without sig must be malformed")
                return
            }

            let wrongDestination = try SignedRequest(destination: "elsewhere.test")
            #expect(await failure(wrongDestination, with: harness.fetcher) == .refused(.wrongDestination("elsewhere.test")))

            let badSignature = try SignedRequest(key: Self.evilKeyNamedLikeRemote())
            #expect(await failure(badSignature, with: harness.fetcher)
                == .refused(.badSignature(origin: "remote.test", keyID: "ed25519:rm1")))

            var bodyChanged = try SignedRequest()
            bodyChanged.content = .object(["membership": .string("join"), "depth": .integer(12)])
            #expect(await failure(bodyChanged, with: harness.fetcher)
                == .refused(.badSignature(origin: "remote.test", keyID: "ed25519:rm1")))

            var queryChanged = try SignedRequest()
            queryChanged.target = queryChanged.target.replacingOccurrences(of: "?x=1", with: "?x=2")
            #expect(await failure(queryChanged, with: harness.fetcher)
                == .refused(.badSignature(origin: "remote.test", keyID: "ed25519:rm1")))

            var bodyRemoved = try SignedRequest()
            bodyRemoved.content = nil
            #expect(await failure(bodyRemoved, with: harness.fetcher)
                == .refused(.badSignature(origin: "remote.test", keyID: "ed25519:rm1")))

            // Still one key fetch for all of them; the good request passes on the same fetcher.
            #expect(try await authenticate(SignedRequest(), with: harness.fetcher) == "remote.test")
            #expect(harness.remote.keyRequests == 1)
        }
    }

    /// A key with remote.test's key ID but another private key: its signatures do not verify.
    static func evilKeyNamedLikeRemote() throws -> SigningKey {
        try SigningKey(version: "rm1", seed: evilKey.privateKey.seed)
    }

    @Test func anyOneValidHeaderSuffices() async throws {
        try await FederationHarness.with(keys: .document(Self.remoteDocument())) { harness in
            var request = try SignedRequest()
            let good = request.authorization[0]
            let forged = try SignedRequest(key: Self.evilKeyNamedLikeRemote()).authorization[0]
            let unknownKey = try SignedRequest(key: SigningKey(version: "other", seed: Self.evilKey.privateKey.seed))
                .authorization[0]
            request.authorization = ["Bearer x", forged, unknownKey, good]
            #expect(try await authenticate(request, with: harness.fetcher) == "remote.test")
        }
    }

    @Test func unknownKeyIDIsRejectedWithoutRefetching() async throws {
        try await FederationHarness.with(keys: .document(Self.remoteDocument())) { harness in
            let unknown = try SignedRequest(key: SigningKey(version: "other", seed: Self.evilKey.privateKey.seed))
            for _ in 0..<3 {
                #expect(await failure(unknown, with: harness.fetcher)
                    == .keyRejected(.keyNotPublished(server: "remote.test", keyID: "ed25519:other")))
            }
            #expect(harness.remote.keyRequests == 1)
        }
    }

    @Test func keyServerDownIsUndecidedAndBackedOff() async throws {
        try await FederationHarness.with(keys: .status(500), remoteDown: true) { harness in
            let request = try SignedRequest()
            guard case .keyServerUnavailable(let error) = await failure(request, with: harness.fetcher),
                  case .unreachable(server: "remote.test", _) = error else {
                Issue.record("a refused connection must be .keyServerUnavailable(.unreachable)")
                return
            }
            // Answered from the negative cache (that no request is made during the back-off is
            // checked with a counting server in aServerThatRecoveredIsAskedAgainAfterTheBackOff).
            #expect(await failure(request, with: harness.fetcher) == .keyServerUnavailable(error))
        }
    }

    @Test func slowKeyServerTimesOut() async throws {
        var configuration = KeyFetcher.Configuration()
        configuration.fetchTimeout = .milliseconds(300)
        try await FederationHarness.with(
            keys: .slow(Self.remoteDocument(), delay: .seconds(2)), configuration: configuration
        ) { harness in
            let request = try SignedRequest()
            // The server would answer (validly) after 2 s: `.timedOut` shows the 300 ms bound cut it off.
            #expect(await failure(request, with: harness.fetcher) == .keyServerUnavailable(.timedOut(server: "remote.test")))
        }
    }

    @Test func keyDocumentSignedBySomeoneElseIsRejected() async throws {
        // remote.test's key ID and public key, but the signature made with another private key.
        var forged = try Self.remoteDocument()
        let evilSigned = try keyDocument(server: "remote.test", keys: [Self.evilKeyNamedLikeRemote()])
        forged["signatures"] = evilSigned["signatures"]
        let request = try SignedRequest()
        try await FederationHarness.with(keys: .document(forged)) { harness in
            #expect(await failure(request, with: harness.fetcher)
                == .keyRejected(.invalidDocument(server: "remote.test", error: .badSignature(keyID: "ed25519:rm1"))))
        }
        // Another server's (valid, self-signed) document.
        let other = try keyDocument(server: "evil.test", keys: [Self.evilKey])
        try await FederationHarness.with(keys: .document(other)) { harness in
            #expect(await failure(request, with: harness.fetcher)
                == .keyRejected(.invalidDocument(
                    server: "remote.test", error: .wrongServer(expected: "remote.test", found: "evil.test"))))
        }
    }

    @Test func expiredKeyIsRejected() async throws {
        let request = try SignedRequest()
        try await FederationHarness.with(keys: .document(Self.remoteDocument(validUntil: nowMS() - 60_000))) { harness in
            guard case .keyRejected(.keyNotValid(server: "remote.test", keyID: "ed25519:rm1", _))
                = await failure(request, with: harness.fetcher) else {
                Issue.record("an expired key must be .keyRejected(.keyNotValid)")
                return
            }
        }
    }

    @Test func garbageKeyResponsesAreRejected() async throws {
        let request = try SignedRequest()
        for behaviour in [FakeHomeserver.KeyBehaviour.status(404), .body("not json"), .body("[1,2]"), .body("{}")] {
            try await FederationHarness.with(keys: behaviour) { harness in
                switch await failure(request, with: harness.fetcher) {
                case .keyRejected(.badResponse), .keyRejected(.invalidDocument): break
                case let other: Issue.record("\(behaviour) gave \(String(describing: other))")
                }
            }
        }
    }
}
