import Federation
import Logging
import MatrixCore
import MatrixCrypto

/// Gathers the keys an event's signatures need — this server's own keys, or the ``KeyFetcher``'s
/// (memory first, fetching only what the check needs: ``ServerSignatureCheck``) — and checks them
/// with ``ServerSignatures``. Serves the leave decision (keys only) and room import (keys and check).
struct EventSignatureChecker: Sendable {
    let ownServer: String
    /// Our current keys (`LEAVE_WORKER_SIGNING_KEY`).
    let ownKeys: [ExactString: Ed25519PublicKey]
    /// Our retired keys (`LEAVE_WORKER_OLD_SIGNING_KEYS`): for events only, as
    /// ``KeyValidity/isUsable(expiredTS:for:)`` allows — what remote servers do with our `old_verify_keys`.
    let oldOwnKeys: [ExactString: OldVerifyKey]
    let fetcher: KeyFetcher
    /// How many signatures of one server are considered.
    let maximumSignaturesPerServer: Int
    let logger: Logger

    /// The keys for each server's signatures in `needed`, by server.
    func keys(for needed: [(server: String, signatures: JSONObject)], use: KeyUse) async -> [ExactString: ServerSignatures.Keys] {
        var keys: [ExactString: ServerSignatures.Keys] = [:]
        for (server, signatures) in needed {
            keys[ExactString(server)] = await ServerSignatureCheck.keys(
                for: signatures, maximum: maximumSignaturesPerServer,
                knownKey: { keyID in cachedKey(server: server, keyID: keyID, use: use) },
                lookUp: { (keyID: String) async throws(KeyFetchError) -> Ed25519PublicKey in
                    try await publicKey(server: server, keyID: keyID, use: use)
                })
        }
        return keys
    }

    /// Verifies the required signatures over `signingBytes` (the redacted event's canonical bytes),
    /// for room import. Where only our own server's signatures are left unverified and one of them
    /// names a key ID we do not have, nothing is decided (``ServerSignatures/Failure/isUndecided``):
    /// the homeserver rotated its key before this worker was given the new one, and the same events
    /// pass once it is. (A remote's leave needing such a signature is refused: ``keys(for:use:)``.)
    func verify(_ event: PDU, signingBytes: [UInt8]) async throws(ServerSignatures.Failure) {
        let use = KeyUse.event(originServerTS: event.originServerTS, enforcesKeyValidity: event.roomVersion.enforcesKeyValidity)
        for server in ServerSignatures.requiredServers(of: event) {
            guard let serverSignatures = event.json["signatures"]?[server]?.objectValue else {
                throw ServerSignatures.Failure(description: "event is not signed by \(server)")
            }
            let keys = await keys(for: [(server, serverSignatures)], use: use)[ExactString(server)] ?? ServerSignatures.Keys()
            do {
                try ServerSignatures.verify(
                    serverSignatures, server: server, signingBytes: signingBytes, maximum: maximumSignaturesPerServer, keys: keys)
            } catch {
                guard server.bytesEqual(ownServer), keys.keys.isEmpty else { throw error }
                let unknown = ServerSignatures.keyIDsToFetch(serverSignatures, maximum: maximumSignaturesPerServer, known: { _ in false })
                    .filter { ownKeys[ExactString($0)] == nil && oldOwnKeys[ExactString($0)] == nil }
                guard !unknown.isEmpty else { throw error }
                logger.warning(
                    "an event of this server is signed with a key ID in neither LEAVE_WORKER_SIGNING_KEY nor LEAVE_WORKER_OLD_SIGNING_KEYS: after a key rotation, give the workers the homeserver's key file and old keys, and restart them",
                    metadata: ["key_ids": "\(unknown.joined(separator: ","))"])
                throw ServerSignatures.Failure(description: error.description, logDetail: error.logDetail, isUndecided: true)
            }
        }
    }

    /// The key if it is ours (usable for `use`) or memory holds it; never fetches.
    func cachedKey(server: String, keyID: String, use: KeyUse) -> Ed25519PublicKey? {
        if server.bytesEqual(ownServer) { return try? ownKey(keyID, use: use) }
        return fetcher.cachedKey(server: server, keyID: keyID, use: use)
    }

    func publicKey(server: String, keyID: String, use: KeyUse) async throws(KeyFetchError) -> Ed25519PublicKey {
        if server.bytesEqual(ownServer) { return try ownKey(keyID, use: use) }
        return try await fetcher.publicKey(server: server, keyID: keyID, use: use)
    }

    /// Our key `keyID`: a current one, or a retired one that `use` allows.
    private func ownKey(_ keyID: String, use: KeyUse) throws(KeyFetchError) -> Ed25519PublicKey {
        if let key = ownKeys[ExactString(keyID)] { return key }
        guard let old = oldOwnKeys[ExactString(keyID)] else { throw .keyNotPublished(server: ownServer, keyID: keyID) }
        if let reason = KeyValidity.refusal(expiredTS: old.expiredTS, for: use) {
            throw .keyNotValid(server: ownServer, keyID: keyID, reason: reason)
        }
        return old.publicKey
    }

    /// The keys the auth rules may need for `event`: those of the server named by
    /// `join_authorised_via_users_server`, if the event carries it.
    func authSignatures(for event: PDU) async -> KeyedAuthSignatures {
        guard let authorising = event.content["join_authorised_via_users_server"]?.stringValue,
            let server = UserID(authorising, historical: true)?.server,
            let signatures = event.json["signatures"]?[server]?.objectValue
        else { return .none }
        let use = KeyUse.event(originServerTS: event.originServerTS, enforcesKeyValidity: event.roomVersion.enforcesKeyValidity)
        var serverKeys: [ExactString: Ed25519PublicKey] = [:]
        for member in signatures.members.lazy.filter({ SigningKey.isEd25519KeyID($0.key) }).prefix(maximumSignaturesPerServer) {
            if let key = try? await publicKey(server: server, keyID: member.key, use: use) {
                serverKeys[ExactString(member.key)] = key
            }
        }
        return KeyedAuthSignatures(keys: [ExactString(server): serverKeys])
    }
}
