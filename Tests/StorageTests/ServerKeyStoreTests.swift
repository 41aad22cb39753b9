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
}
