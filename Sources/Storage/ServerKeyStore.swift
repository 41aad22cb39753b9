import Postgres

/// A remote server's signing key as cached in Postgres (times in ms since the epoch).
public struct StoredServerKey: Sendable, Equatable {
    public let keyID: String
    /// The 32-byte Ed25519 public key.
    public let publicKey: [UInt8]
    public let validUntilTS: Int64
    /// Set for a key published under `old_verify_keys`: when it stopped being used.
    public let expiredTS: Int64?
    /// When this server fetched the key.
    public let fetchedAt: Int64

    public init(keyID: String, publicKey: [UInt8], validUntilTS: Int64, expiredTS: Int64?, fetchedAt: Int64) {
        self.keyID = keyID
        self.publicKey = publicKey
        self.validUntilTS = validUntilTS
        self.expiredTS = expiredTS
        self.fetchedAt = fetchedAt
    }
}

/// Remote servers' keys, cached in Postgres and shared by every worker.
///
/// Bounded: at most ``maximumKeysPerServer`` rows per server (a server publishing new key IDs at
/// every fetch keeps only its most recently fetched ones), and keys whose validity ended long ago
/// are pruned (``pruneExpired(validUntilBefore:limit:)``).
public final class ServerKeyStore: Sendable {
    /// Rows kept per server; the in-memory cache keeps as many.
    public static let maximumKeysPerServer = 64

    let pool: PostgresPool

    public init(pool: PostgresPool) {
        self.pool = pool
    }

    /// Every cached key of `server`, ordered by key ID.
    public func keys(server: String) async throws -> [StoredServerKey] {
        try await pool.withConnection { connection in
            let result = try connection.query("""
                SELECT key_id, public_key, valid_until_ts, expired_ts, fetched_at
                FROM server_keys WHERE server_name = $1 ORDER BY key_id
                """, [.text(server)])
            return try result.rows.map { row throws(StorageError) in
                guard let keyID = row.string(0), let publicKey = row.bytes(1), let validUntil = row.int64(2),
                      let fetchedAt = row.int64(4) else {
                    throw .malformedRow("server_keys row")
                }
                return StoredServerKey(keyID: keyID, publicKey: publicKey, validUntilTS: validUntil,
                                       expiredTS: row.int64(3), fetchedAt: fetchedAt)
            }
        }
    }

    /// Inserts or refreshes `keys` (distinct key IDs, as a key document gives) in one statement — all
    /// or nothing; a key document lists at most
    /// a few keys, so the statement stays small. A key already stored from a later fetch
    /// (`fetchedAt`) is left as it is, so a slow fetch never overwrites a newer one.
    public func store(server: String, keys: [StoredServerKey]) async throws {
        guard !keys.isEmpty else { return }
        var rows: [String] = []
        var parameters: [PostgresValue] = [.text(server)]
        for key in keys {
            let first = parameters.count + 1
            rows.append("($1, " + (first..<first + 5).map { "$\($0)" }.joined(separator: ", ") + ")")
            parameters += [.text(key.keyID), .bytes(key.publicKey), .int(key.validUntilTS),
                           key.expiredTS.map { .int($0) } ?? .null, .int(key.fetchedAt)]
        }
        let sql = """
            INSERT INTO server_keys (server_name, key_id, public_key, valid_until_ts, expired_ts, fetched_at)
            VALUES \(rows.joined(separator: ", "))
            ON CONFLICT (server_name, key_id) DO UPDATE
                SET public_key = EXCLUDED.public_key, valid_until_ts = EXCLUDED.valid_until_ts,
                    expired_ts = EXCLUDED.expired_ts, fetched_at = EXCLUDED.fetched_at
                WHERE server_keys.fetched_at <= EXCLUDED.fetched_at
            """
        let values = parameters
        try await pool.withConnection { connection in
            try connection.transaction { connection in
                _ = try connection.query(sql, values)
                _ = try connection.query("""
                    DELETE FROM server_keys WHERE server_name = $1 AND key_id IN (
                        SELECT key_id FROM server_keys WHERE server_name = $1
                        ORDER BY fetched_at DESC, key_id DESC OFFSET $2)
                    """, [.text(server), .int(Int64(Self.maximumKeysPerServer))])
            }
        }
    }

    /// Deletes up to `limit` keys whose `valid_until_ts` is before `cutoff` (ms since the epoch);
    /// returns how many. Such a key verifies no request and no event of a version that enforces key
    /// validity; should an older room need it, it is fetched again.
    public func pruneExpired(validUntilBefore cutoff: Int64, limit: Int) async throws -> Int {
        try await pool.withConnection { connection in
            try connection.query("""
                DELETE FROM server_keys k
                USING (SELECT server_name, key_id FROM server_keys WHERE valid_until_ts < $1 LIMIT $2) AS old
                WHERE k.server_name = old.server_name AND k.key_id = old.key_id
                """, [.int(cutoff), .int(Int64(max(1, limit)))]).affectedRows
        }
    }
}
