import Postgres
import Storage
import TestSupport
import XCTest

/// The shared cache of remote servers' keys.
final class ServerKeyStoreTests: XCTestCase {
    func testStoresReadsAndKeepsTheNewestFetch() async throws {
        let pool = try await StorageFixture.migratedPool(prefix: "keys", poolSize: 1)
        let keys = ServerKeyStore(pool: pool)
        let none = try await keys.keys(server: "remote.test")
        XCTAssertEqual(none, [])

        let current = StoredServerKey(keyID: "ed25519:b", publicKey: Array(repeating: 7, count: 32), validUntilTS: 2_000,
                                      expiredTS: nil, fetchedAt: 1_000)
        let old = StoredServerKey(keyID: "ed25519:a", publicKey: Array(0..<32), validUntilTS: 500, expiredTS: 400, fetchedAt: 1_000)
        try await keys.store(server: "remote.test", keys: [current, old])
        let stored = try await keys.keys(server: "remote.test")
        XCTAssertEqual(stored, [old, current])

        let refreshed = StoredServerKey(keyID: "ed25519:b", publicKey: current.publicKey, validUntilTS: 9_000, expiredTS: nil,
                                        fetchedAt: 3_000)
        try await keys.store(server: "remote.test", keys: [refreshed])
        let stale = StoredServerKey(keyID: "ed25519:b", publicKey: current.publicKey, validUntilTS: 1, expiredTS: nil, fetchedAt: 2_000)
        try await keys.store(server: "remote.test", keys: [stale])
        let afterRefresh = try await keys.keys(server: "remote.test")
        XCTAssertEqual(afterRefresh, [old, refreshed], "a slower, older fetch never overwrites a newer one")
        let otherServer = try await keys.keys(server: "other.test")
        XCTAssertEqual(otherServer, [])
        await pool.close()
    }

    func testAKeyOfTheWrongLengthIsRefusedAndNothingOfTheBatchIsStored() async throws {
        let pool = try await StorageFixture.migratedPool(prefix: "keys_bad", poolSize: 1)
        let keys = ServerKeyStore(pool: pool)
        let good = StoredServerKey(keyID: "ed25519:a", publicKey: Array(repeating: 1, count: 32), validUntilTS: 1, expiredTS: nil, fetchedAt: 1)
        let short = StoredServerKey(keyID: "ed25519:b", publicKey: [1, 2, 3], validUntilTS: 1, expiredTS: nil, fetchedAt: 1)
        do {
            try await keys.store(server: "remote.test", keys: [good, short])
            XCTFail("a 3-byte public key violates the check constraint")
        } catch let error as PostgresError {
            XCTAssertEqual(error.sqlState, "23514")
        }
        let stored = try await keys.keys(server: "remote.test")
        XCTAssertEqual(stored, [])
        await pool.close()
    }

    /// A server that publishes new key IDs at every fetch keeps only its most recently fetched keys.
    func testAServerRotatingKeyIDsKeepsAtMostTheCapOfRows() async throws {
        let pool = try await StorageFixture.migratedPool(prefix: "keys_cap", poolSize: 1)
        let keys = ServerKeyStore(pool: pool)
        let cap = ServerKeyStore.maximumKeysPerServer
        for fetch in 0..<(cap / 16 + 3) {
            let document = (0..<16).map { index in
                StoredServerKey(keyID: "ed25519:f\(fetch)k\(index)", publicKey: Array(repeating: 1, count: 32),
                                validUntilTS: 10_000, expiredTS: nil, fetchedAt: Int64(1_000 + fetch))
            }
            try await keys.store(server: "rotating.test", keys: document)
        }
        let stored = try await keys.keys(server: "rotating.test")
        XCTAssertEqual(stored.count, cap)
        XCTAssertTrue(stored.contains { $0.keyID == "ed25519:f\(cap / 16 + 2)k0" }, "the newest fetch is kept")
        XCTAssertFalse(stored.contains { $0.keyID == "ed25519:f0k0" }, "the oldest fetch is gone")
        await pool.close()
    }

    func testKeysExpiredBeforeTheCutoffArePrunedInBatches() async throws {
        let pool = try await StorageFixture.migratedPool(prefix: "keys_prune", poolSize: 1)
        let keys = ServerKeyStore(pool: pool)
        func key(_ id: String, validUntil: Int64) -> StoredServerKey {
            StoredServerKey(keyID: id, publicKey: Array(repeating: 2, count: 32), validUntilTS: validUntil, expiredTS: nil, fetchedAt: 1)
        }
        try await keys.store(server: "a.test", keys: [key("ed25519:old1", validUntil: 10), key("ed25519:new", validUntil: 5_000)])
        try await keys.store(server: "b.test", keys: [key("ed25519:old2", validUntil: 999), key("ed25519:edge", validUntil: 1_000)])
        let first = try await keys.pruneExpired(validUntilBefore: 1_000, limit: 1)
        let second = try await keys.pruneExpired(validUntilBefore: 1_000, limit: 10)
        XCTAssertEqual([first, second], [1, 1])
        let left = try await keys.keys(server: "a.test").map(\.keyID) + (try await keys.keys(server: "b.test")).map(\.keyID)
        XCTAssertEqual(Set(left), ["ed25519:new", "ed25519:edge"])
        await pool.close()
    }
}
