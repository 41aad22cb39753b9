@testable import Federation
import Logging
import MatrixCore
import MatrixCrypto
import Storage
import Synchronization
import Testing
import TestSupport

/// What one request can make the worker do: key look-ups per request and per event, what is
/// remembered after a miss, the size of key documents, and concurrent fetches.
@Suite struct AmplificationTests {
    static let remoteKey = XMatrixAuthenticatorTests.remoteKey

    @Test func onlyTheFirstFewAuthorizationHeadersAreLookedUp() async throws {
        let headers = (0..<100).map { #"X-Matrix origin="remote.test",destination="resident.test",key="ed25519:k\#($0)",sig="AAAA""# }
        var lookups = 0
        await #expect(throws: XMatrixError.self) {
            _ = try await XMatrixRequest.authenticate(
                method: "GET", uri: "/_matrix/federation/v1/version", serverName: "resident.test", content: nil,
                authorizationHeaders: headers, maximumAuthorizations: 4
            ) { (_: String, _: String) async throws(KeyFetchError) -> Ed25519PublicKey? in
                lookups += 1
                return nil
            }
        }
        #expect(lookups == 4)
    }

    @Test func unknownKeyIDsAreRefusedFromMemoryAfterARefresh() async throws {
        try await FederationHarness.with(keys: .document(XMatrixAuthenticatorTests.remoteDocument())) { harness async throws in
            let use = KeyUse.request(now: nowMS())
            await #expect(throws: KeyFetchError.keyNotPublished(server: "remote.test", keyID: "ed25519:random1")) {
                try await harness.fetcher.publicKey(server: "remote.test", keyID: "ed25519:random1", use: use)
            }
            // Another worker stores a key now: within the refetch interval this worker does not read
            // Postgres again for an unknown key ID — it answers from memory.
            try await harness.store.store(server: "remote.test", keys: [StoredServerKey(
                keyID: "ed25519:sneaky", publicKey: Self.remoteKey.publicKey.bytes, validUntilTS: nowMS() + 3_600_000,
                expiredTS: nil, fetchedAt: nowMS())])
            for index in 0..<50 {
                await #expect(throws: KeyFetchError.self) {
                    try await harness.fetcher.publicKey(server: "remote.test", keyID: "ed25519:random\(index + 2)", use: use)
                }
            }
            await #expect(throws: KeyFetchError.keyNotPublished(server: "remote.test", keyID: "ed25519:sneaky")) {
                try await harness.fetcher.publicKey(server: "remote.test", keyID: "ed25519:sneaky", use: use)
            }
            #expect(harness.remote.keyRequests == 1)
            // The known key is still served from memory.
            #expect(try await harness.fetcher.publicKey(server: "remote.test", keyID: "ed25519:rm1", use: use) == Self.remoteKey.publicKey)
        }
    }

    @Test func lookUpsArrivingDuringAFetchWaitForItInsteadOfBeingRefusedFromMemory() async throws {
        let document = try XMatrixAuthenticatorTests.remoteDocument()
        try await FederationHarness.with(keys: .slow(document, delay: .milliseconds(500))) { harness async throws in
            let fetcher = harness.fetcher
            let keys = try await withThrowingTaskGroup(of: Ed25519PublicKey.self) { group in
                for index in 0..<20 {
                    group.addTask {
                        if index > 0 { try await Task.sleep(for: .milliseconds(10 * index)) }   // while the fetch runs
                        return try await fetcher.publicKey(server: "remote.test", keyID: "ed25519:rm1", use: .request(now: nowMS()))
                    }
                }
                return try await group.reduce(into: [Ed25519PublicKey]()) { $0.append($1) }
            }
            #expect(keys.count == 20 && keys.allSatisfy { $0 == Self.remoteKey.publicKey })
            #expect(harness.remote.keyRequests == 1)
        }
    }

    @Test func anOversizedKeyDocumentIsRefusedAndNotStored() async throws {
        let huge = #"{"server_name":"remote.test","padding":""# + String(repeating: "a", count: 10 << 20) + #""}"#
        try await FederationHarness.with(keys: .body(huge)) { harness async throws in
            do throws(KeyFetchError) {
                _ = try await harness.fetcher.publicKey(server: "remote.test", keyID: "ed25519:rm1", use: .request(now: nowMS()))
                Issue.record("a 10 MB key document must be refused")
            } catch {
                guard case .badResponse = error else { Issue.record("unexpected \(error)"); return }
                #expect(!error.isUndecided)
            }
            #expect(try await harness.store.keys(server: "remote.test").isEmpty)
        }
    }

    @Test func aKeyDocumentWithTooManyKeysIsRefusedAndNotStored() async throws {
        let oldKeys = (0..<999).map { OldVerifyKey(keyID: "ed25519:old\($0)", publicKey: Self.remoteKey.publicKey, expiredTS: 1_000) }
        let document = try keyDocument(server: "remote.test", keys: [Self.remoteKey], oldKeys: oldKeys)
        var configuration = KeyFetcher.Configuration()
        configuration.maximumDocumentBytes = 1 << 20   // the key count, not the size, is what is refused here
        try await FederationHarness.with(keys: .document(document), configuration: configuration) { harness async throws in
            do throws(KeyFetchError) {
                _ = try await harness.fetcher.publicKey(server: "remote.test", keyID: "ed25519:rm1", use: .request(now: nowMS()))
                Issue.record("a 1,000-key document must be refused")
            } catch {
                #expect(error == .invalidDocument(server: "remote.test", error: .tooManyKeys(count: 1000, limit: 16)))
            }
            #expect(harness.remote.keyRequests == 1)
            #expect(try await harness.store.keys(server: "remote.test").isEmpty)
        }
        // Sixteen keys are fine.
        let sixteen = try keyDocument(server: "remote.test", keys: [Self.remoteKey], oldKeys: Array(oldKeys.prefix(15)))
        #expect(try ServerKeyDocument.verify(sixteen, expectedServer: "remote.test").oldVerifyKeys.count == 15)
    }

    @Test func concurrentFetchesAreCappedPerProcess() async throws {
        var configuration = KeyFetcher.Configuration()
        configuration.maximumConcurrentFetches = 2
        configuration.fetchSlotWait = .milliseconds(300)
        try await FederationHarness.with(keys: .slow(XMatrixAuthenticatorTests.remoteDocument(), delay: .seconds(2))) { harness async throws in
            let names = ["a.test", "b.test", "c.test"]
            let transport = try FederationHarness.transport(overrides: Dictionary(uniqueKeysWithValues: names.map { ($0, harness.remote.baseURL) }))
            let fetcher = KeyFetcher(store: harness.store, transport: transport, configuration: configuration)
            for name in names {   // known servers (a key stored), so not held to the newcomers' share
                try await harness.store.store(server: name, keys: [StoredServerKey(
                    keyID: "ed25519:old", publicKey: Self.remoteKey.publicKey.bytes, validUntilTS: nowMS() - 1_000,
                    expiredTS: nil, fetchedAt: nowMS())])
            }
            let errors = await withTaskGroup(of: KeyFetchError?.self) { group in
                for name in names {
                    group.addTask {
                        do throws(KeyFetchError) {
                            _ = try await fetcher.publicKey(server: name, keyID: "ed25519:rm1", use: .request(now: nowMS()))
                            return nil
                        } catch {
                            return error
                        }
                    }
                }
                return await group.reduce(into: [KeyFetchError?]()) { $0.append($1) }
            }
            let overloaded = errors.filter { if case .overloaded = $0 { true } else { false } }
            #expect(overloaded.count == 1)
            #expect(overloaded.allSatisfy { $0?.isUndecided == true })
            #expect(harness.remote.keyRequests == 2)
            try? await transport.destinations.shutdown()
        }
    }

    /// Origins nobody has proven (an unsigned request may name any) whose resolver never answers
    /// hold at most the newcomers' share of the fetch slots, and look names up on threads of their
    /// own: a known server (keys stored, a new key ID to fetch) still gets a slot at once. With
    /// one line for all, four such names held every slot and the known server's fetch was
    /// refused as overloaded.
    @Test func newcomersWhoseNamesNeverResolveLeaveKnownServersTheirSlots() async throws {
        var configuration = KeyFetcher.Configuration()
        configuration.maximumConcurrentFetches = 4
        configuration.fetchSlotWait = .milliseconds(300)
        configuration.fetchTimeout = .seconds(2)
        #expect(configuration.maximumConcurrentNewcomerFetches == 1)
        let lookUps = Mutex<[(host: String, onNewcomerThreads: Bool)]>([])
        let resolver = HostResolver { host in
            lookUps.withLock { $0.append((host, LookUpThreads.current === LookUpThreads.newcomers)) }
            try? await Task.sleep(for: .seconds(30))   // a resolver that never answers
            return []
        }
        try await FederationHarness.with(keys: .document(XMatrixAuthenticatorTests.remoteDocument())) { harness async throws in
            let transport = FederationTransport(destinations: FederationDestinations(
                overrides: try FederationOverrides.parse("remote.test=\(harness.remote.baseURL)"),
                connector: OutboundConnector(resolver: resolver, connectTimeout: .milliseconds(500))))
            let fetcher = KeyFetcher(store: harness.store, transport: transport, configuration: configuration)
            try await harness.store.store(server: "remote.test", keys: [StoredServerKey(
                keyID: "ed25519:old", publicKey: Self.remoteKey.publicKey.bytes, validUntilTS: nowMS() - 1_000,
                expiredTS: nil, fetchedAt: nowMS())])
            let newcomers = Task {
                await withTaskGroup(of: KeyFetchError?.self) { group in
                    for index in 1...4 {
                        group.addTask {
                            do throws(KeyFetchError) {
                                _ = try await fetcher.publicKey(server: "n\(index).newcomer.test:8448", keyID: "ed25519:a", use: .request(now: nowMS()))
                                return nil
                            } catch {
                                return error
                            }
                        }
                    }
                    return await group.reduce(into: [KeyFetchError?]()) { $0.append($1) }
                }
            }
            while lookUps.withLock({ $0.isEmpty }) { try await Task.sleep(for: .milliseconds(5)) }
            try await Task.sleep(for: .milliseconds(100))   // the other newcomers at the slots by now
            let key = try await fetcher.publicKey(server: "remote.test", keyID: "ed25519:rm1", use: .request(now: nowMS()))
            #expect(key == Self.remoteKey.publicKey)
            let errors = await newcomers.value
            #expect(errors.count == 4 && errors.allSatisfy { $0?.isUndecided == true })
            #expect(errors.filter { if case .overloaded = $0 { true } else { false } }.count == 3)
            let seen = lookUps.withLock { $0 }
            #expect(seen.count == 1 && seen.allSatisfy(\.onNewcomerThreads), "\(seen)")
            try? await transport.destinations.shutdown()
        }
    }

    /// The spec: a stored key's bytes are never replaced under the same key ID without a word in
    /// the log (events signed under the old bytes would no longer verify).
    @Test func keyBytesReplacedUnderAStoredKeyIDAreLogged() async throws {
        try await FederationHarness.with(keys: .document(XMatrixAuthenticatorTests.remoteDocument())) { harness async throws in
            let logs = LogRecorder()
            let fetcher = KeyFetcher(store: harness.store, transport: harness.transport, logger: logs.logger)
            let otherBytes = try XMatrixVectors.signingKey(of: "resident.test").publicKey.bytes
            try await harness.store.store(server: "remote.test", keys: [StoredServerKey(
                keyID: "ed25519:rm1", publicKey: otherBytes, validUntilTS: nowMS() - 1_000, expiredTS: nil, fetchedAt: nowMS())])
            let key = try await fetcher.publicKey(server: "remote.test", keyID: "ed25519:rm1", use: .request(now: nowMS()))
            #expect(key == Self.remoteKey.publicKey)
            let warnings = logs.lines.filter { $0.contains("server key replaced under the same key ID") }
            #expect(warnings.count == 1 && warnings.allSatisfy { $0.hasPrefix("warning") && $0.contains("ed25519:rm1") }, "\(logs.lines)")
        }
    }

    // MARK: - Event signatures

    static let bytes = Array("signed bytes".utf8)
    static var validSignature: JSONValue { .string(Base64.encodeUnpadded(remoteKey.privateKey.signature(for: bytes))) }
    static let bogusSignature = JSONValue.string(Base64.encodeUnpadded([UInt8](repeating: 7, count: 64)))

    /// `signatures` with `count` entries under unknown key IDs plus `extra`.
    static func signatures(unknown count: Int, extra: [String: JSONValue] = [:]) -> JSONObject {
        var object = JSONObject()
        for index in 0..<count { object["ed25519:unknown\(index)"] = bogusSignature }
        for (keyID, value) in extra { object[keyID] = value }
        return object
    }

    /// Runs the check with `known` keys at hand and `fetchable` keys behind a counted look-up.
    static func check(_ signatures: JSONObject, known: [String: Ed25519PublicKey] = [:],
                      fetchable: [String: Ed25519PublicKey] = [:],
                      missing: KeyFetchError = .unreachable(server: "remote.test", reason: "connection refused (errno 111) at 10.0.0.7"))
        async -> (lookups: Int, failure: ServerSignatureCheck.Failure?) {
        var lookups = 0
        do {
            try await ServerSignatureCheck.verify(
                signatures, server: "remote.test", signingBytes: bytes, maximum: 4,
                knownKey: { known[$0] },
                lookUp: { (keyID: String) async throws(KeyFetchError) -> Ed25519PublicKey in
                    lookups += 1
                    guard let key = fetchable[keyID] else { throw missing }
                    return key
                })
            return (lookups, nil)
        } catch {
            return (lookups, error)
        }
    }

    @Test func aHundredUnknownSignatureKeysCostAtMostTheCap() async {
        let (lookups, failure) = await Self.check(Self.signatures(unknown: 100))
        #expect(lookups == 4)
        #expect(failure?.description == "no verifiable signature of remote.test with a known key (Could not fetch the signing keys of origin remote.test)")
        #expect(failure?.logDetail?.contains("errno 111") == true)
        #expect(failure?.isUndecided == true)   // keys that could not be fetched decide nothing (503)
        let unpublished = await Self.check(Self.signatures(unknown: 100), missing: .keyNotPublished(server: "remote.test", keyID: "x"))
        #expect(unpublished.lookups == 4 && unpublished.failure?.isUndecided == false)
    }

    @Test func aKnownValidKeyNeedsNoLookUps() async {
        let key = Self.remoteKey.publicKey
        let (lookups, failure) = await Self.check(Self.signatures(unknown: 100, extra: ["ed25519:zz": Self.validSignature]), known: ["ed25519:zz": key])
        #expect(lookups == 0 && failure == nil)
    }

    @Test func aKnownKeyWhoseSignatureFailsRefusesEvenBesideAValidOne() async {
        let key = Self.remoteKey.publicKey
        let signatures = Self.signatures(unknown: 0, extra: ["ed25519:good": Self.validSignature, "ed25519:bad": Self.bogusSignature])
        let (_, failure) = await Self.check(signatures, known: ["ed25519:good": key, "ed25519:bad": key])
        #expect(failure?.description == "signature ed25519:bad of remote.test does not verify")
    }

    /// Synapse reads only the signatures it has keys for: one that is not base64, under a key ID
    /// without a key, neither refuses the event nor stops the look-ups for the others.
    @Test func aSignatureThatIsNotBase64UnderAKeyIDWithoutAKeyIsIgnored() async {
        let key = Self.remoteKey.publicKey
        let garbage = Self.signatures(unknown: 0, extra: ["ed25519:good": Self.validSignature, "ed25519:zz": "!!"])
        let atHand = await Self.check(garbage, known: ["ed25519:good": key])
        #expect(atHand.lookups == 0 && atHand.failure == nil)
        let fetched = await Self.check(garbage, fetchable: ["ed25519:good": key])
        #expect(fetched.lookups == 1 && fetched.failure == nil)
        // With its key at hand, a signature that is not base64 refuses.
        let keyed = await Self.check(garbage, known: ["ed25519:good": key, "ed25519:zz": key])
        #expect(keyed.failure?.description == "signature ed25519:zz of remote.test is not base64")
    }

    @Test func lookUpsStopAtTheFirstVerifyingSignature() async {
        let key = Self.remoteKey.publicKey
        var signatures = JSONObject()
        signatures["ed25519:a1"] = Self.validSignature
        for index in 0..<3 { signatures["ed25519:b\(index)"] = Self.bogusSignature }
        let (lookups, failure) = await Self.check(signatures, fetchable: ["ed25519:a1": key])
        #expect(lookups == 1 && failure == nil)
    }
}

/// Log lines kept in memory ("level message metadata"), for tests that look for a warning.
final class LogRecorder: Sendable {
    private let recorded = Mutex<[String]>([])

    var lines: [String] { recorded.withLock { $0 } }

    var logger: Logger { Logger(label: "test") { _ in Handler(recorder: self) } }

    private struct Handler: LogHandler {
        let recorder: LogRecorder
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String,
                 file: String, function: String, line: UInt) {
            recorder.recorded.withLock { $0.append("\(level) \(message) \(self.metadata.merging(metadata ?? [:]) { $1 })") }
        }
    }
}
