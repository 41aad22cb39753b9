@testable import Federation
import MatrixCrypto
import Postgres
import Storage
import Testing

/// The in-memory caches' bounds and expiry, and key fetching with Postgres unavailable.
@Suite struct CacheTests {
    static func row(_ keyID: String, validUntil: Int64 = 2_000_000_000_000) throws -> StoredServerKey {
        StoredServerKey(keyID: keyID, publicKey: try XMatrixVectors.signingKey(of: "remote.test").publicKey.bytes,
                        validUntilTS: validUntil, expiredTS: nil, fetchedAt: 1_999_999_000_000)
    }

    @Test func serverKeyCacheEvictsTheLeastRecentlyUsedServer() throws {
        var cache = ServerKeyCache(capacity: 2)
        let use = KeyUse.request(now: 1_999_999_500_000)
        cache.install(server: "a.test", keys: [try Self.row("ed25519:k")], at: .now)
        cache.install(server: "b.test", keys: [try Self.row("ed25519:k")], at: .now)
        guard case .usable = cache.lookup(server: "a.test", keyID: "ed25519:k", use: use) else {
            Issue.record("a.test's key must be usable")
            return
        }
        cache.install(server: "c.test", keys: [try Self.row("ed25519:k")], at: .now)
        #expect(cache.refreshedAt(server: "b.test") == nil)
        #expect(cache.refreshedAt(server: "a.test") != nil && cache.refreshedAt(server: "c.test") != nil)
    }

    /// Servers refreshed with no key known (an unsigned request may name any origin) are
    /// remembered apart: made-up names do not push a known server's keys out.
    @Test func serversWithoutKeysDoNotEvictKnownServersKeys() throws {
        var cache = ServerKeyCache(capacity: 2)
        let use = KeyUse.request(now: 1_999_999_500_000)
        cache.install(server: "a.test", keys: [try Self.row("ed25519:k")], at: .now)
        for index in 0..<10 { cache.install(server: "made-up\(index).test", keys: [], at: .now) }
        guard case .usable = cache.lookup(server: "a.test", keyID: "ed25519:k", use: use) else {
            Issue.record("a.test's key must still be in memory")
            return
        }
        #expect(cache.refreshedAt(server: "made-up9.test") != nil, "a keyless refresh is remembered (answered from memory)")
        #expect(cache.refreshedAt(server: "made-up0.test") == nil, "within its own bound")
        cache.install(server: "made-up9.test", keys: [try Self.row("ed25519:k")], at: .now)   // it publishes a key after all
        guard case .usable = cache.lookup(server: "made-up9.test", keyID: "ed25519:k", use: use) else {
            Issue.record("a key installed later is usable")
            return
        }
    }

    @Test func serverKeyCacheKeepsABoundedNumberOfKeysPerServer() throws {
        var cache = ServerKeyCache(capacity: 4)
        let use = KeyUse.request(now: 1_999_999_500_000)
        cache.install(server: "a.test", keys: try (0..<60).map { try Self.row("ed25519:k\($0)") }, at: .now)
        cache.install(server: "a.test", keys: try (0..<4).map { try Self.row("ed25519:m\($0)") }, at: .now)
        guard case .usable = cache.lookup(server: "a.test", keyID: "ed25519:k0", use: use) else {
            Issue.record("64 keys are kept across refreshes")
            return
        }
        cache.install(server: "a.test", keys: try (0..<10).map { try Self.row("ed25519:n\($0)") }, at: .now)
        guard case .unknown = cache.lookup(server: "a.test", keyID: "ed25519:k0", use: use),
              case .usable = cache.lookup(server: "a.test", keyID: "ed25519:n9", use: use) else {
            Issue.record("beyond 64 keys only the latest rows are kept")
            return
        }
    }

    @Test func serverKeyCacheCapsValidityAtSevenDaysAfterTheFetch() throws {
        var cache = ServerKeyCache(capacity: 4)
        let fetchedAt: Int64 = 1_999_999_000_000
        cache.install(server: "a.test", keys: [try Self.row("ed25519:k", validUntil: .max)], at: .now)
        let week = KeyValidity.maximumValidityPeriod
        guard case .usable = cache.lookup(server: "a.test", keyID: "ed25519:k", use: .request(now: fetchedAt + week)) else {
            Issue.record("usable up to seven days after the fetch")
            return
        }
        guard case .notUsable = cache.lookup(server: "a.test", keyID: "ed25519:k", use: .request(now: fetchedAt + week + 1)) else {
            Issue.record("not usable later than seven days after the fetch")
            return
        }
        guard case .unknown = cache.lookup(server: "a.test", keyID: "ed25519:other", use: .request(now: fetchedAt)) else {
            Issue.record("an unknown key ID is unknown")
            return
        }
    }

    @Test func expiringCacheForgetsExpiredEntriesAndStaysBounded() async throws {
        let cache = ExpiringCache<String, Int>(capacity: 3)
        cache.set(1, for: "short", lifetime: .milliseconds(50))
        cache.set(2, for: "long", lifetime: .seconds(60))
        #expect(cache.value(for: "short") == 1)
        try await Task.sleep(for: .milliseconds(100))
        #expect(cache.value(for: "short") == nil)
        for index in 0..<10 { cache.set(index, for: "k\(index)", lifetime: .seconds(60)) }
        let kept = (0..<10).filter { cache.value(for: "k\($0)") != nil }.count + (cache.value(for: "long") == nil ? 0 : 1)
        #expect(kept == 3)
        #expect(cache.value(for: "k9") == 9)
    }

    @Test func keysAreStillFetchedWhenPostgresIsUnavailable() async throws {
        try await FederationHarness.with(keys: .document(XMatrixAuthenticatorTests.remoteDocument())) { harness in
            let unreachable = PostgresPool(configuration: PostgresConfiguration(
                url: "postgresql://postgres@127.0.0.1:1/none", poolSize: 1, acquireTimeout: .milliseconds(200)))
            let fetcher = KeyFetcher(store: ServerKeyStore(pool: unreachable), transport: harness.transport)
            let key = try await fetcher.publicKey(server: "remote.test", keyID: "ed25519:rm1", use: .request(now: nowMS()))
            #expect(key == XMatrixAuthenticatorTests.remoteKey.publicKey)
            #expect(harness.remote.keyRequests == 1)
            await unreachable.close()
        }
    }
}
