import BoundedCollections
import MatrixCrypto
import Storage

/// The in-memory key cache: for each server, its known keys with their validity. A plain value,
/// kept behind ``KeyFetcher``'s lock. Bounded: when full, the least recently used server goes (O(1)).
/// Servers refreshed with no key known are remembered apart (as bounded): an unsigned request may
/// name any origin, and names made up by the thousand would otherwise push every known server's
/// keys out of memory (each then costing a Postgres read again).
struct ServerKeyCache {
    /// One known public key.
    struct Key {
        let publicKey: Ed25519PublicKey
        /// For `verify_keys`: the effective validity, `min(valid_until_ts, fetched_at + 7 days)`.
        let validUntilTS: Int64
        /// For `old_verify_keys`: when the key expired; `nil` for a current key.
        let expiredTS: Int64?
    }

    /// What the cache knows about one key.
    enum Lookup {
        case usable(Ed25519PublicKey)
        case notUsable(reason: String)
        case unknown
    }

    private struct Server {
        var keys: [String: Key]
        /// When the keys were last loaded from Postgres or fetched from the origin.
        var refreshedAt: ContinuousClock.Instant
    }

    private var servers: BoundedLRU<String, Server>
    /// When servers with no key known were last refreshed.
    private var keyless: BoundedLRU<String, ContinuousClock.Instant>
    /// Keys remembered per server across refreshes (one document lists at most a few).
    static let maximumKeysPerServer = 64

    init(capacity: Int) {
        servers = BoundedLRU(capacity: capacity)
        keyless = BoundedLRU(capacity: capacity)
    }

    /// The key if it is known and valid for `use`.
    mutating func lookup(server: String, keyID: String, use: KeyUse) -> Lookup {
        guard let key = servers.value(for: server)?.keys[keyID] else { return .unknown }
        if let expiredTS = key.expiredTS {
            if let reason = KeyValidity.refusal(expiredTS: expiredTS, for: use) { return .notUsable(reason: reason) }
            return .usable(key.publicKey)
        }
        if KeyValidity.isUsable(validUntilTS: key.validUntilTS, for: use) { return .usable(key.publicKey) }
        return .notUsable(reason: "it is valid only until \(key.validUntilTS)")
    }

    /// When `server`'s keys were last refreshed, if they are cached (or it had none).
    func refreshedAt(server: String) -> ContinuousClock.Instant? {
        servers.peek(server)?.refreshedAt ?? keyless.peek(server)
    }

    /// Replaces what is known about `server` with `keys` (rows as stored in Postgres).
    mutating func install(server: String, keys stored: [StoredServerKey], at instant: ContinuousClock.Instant) {
        var keys = servers.peek(server)?.keys ?? [:]
        for row in stored {
            guard let publicKey = try? Ed25519PublicKey(bytes: row.publicKey) else { continue }
            keys[row.keyID] = Key(
                publicKey: publicKey,
                validUntilTS: KeyValidity.effectiveValidUntil(validUntilTS: row.validUntilTS, fetchedAt: row.fetchedAt),
                expiredTS: row.expiredTS)
        }
        if keys.count > Self.maximumKeysPerServer {   // a server rotating key IDs: keep only the latest rows
            keys = keys.filter { keyID, _ in stored.contains { $0.keyID.utf8.elementsEqual(keyID.utf8) } }
        }
        guard !keys.isEmpty else {
            keyless.set(instant, for: server)
            return
        }
        keyless.remove(server)
        servers.set(Server(keys: keys, refreshedAt: instant), for: server)
    }
}

extension StoredServerKey {
    /// The rows to store for a verified key document fetched at `fetchedAt` (ms): current keys valid
    /// until the document's `valid_until_ts`, old keys until their `expired_ts`.
    static func rows(from keys: VerifiedServerKeys, fetchedAt: Int64) -> [StoredServerKey] {
        let current = keys.verifyKeys.map { keyID, key in
            StoredServerKey(keyID: keyID, publicKey: key.bytes, validUntilTS: keys.validUntilTS,
                            expiredTS: nil, fetchedAt: fetchedAt)
        }
        let old = keys.oldVerifyKeys.compactMap { keyID, entry -> StoredServerKey? in
            guard keys.verifyKeys[keyID] == nil else { return nil }   // a key listed as both is current
            return StoredServerKey(keyID: keyID, publicKey: entry.key.bytes, validUntilTS: entry.expiredTS,
                                   expiredTS: entry.expiredTS, fetchedAt: fetchedAt)
        }
        return current + old
    }
}
