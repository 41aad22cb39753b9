import Federation
import MatrixCore
import MatrixCrypto

/// Gathers the keys an event's signatures need — this server's own keys, or the ``KeyFetcher``'s
/// (memory first, fetching only what the check needs: ``ServerSignatureCheck``) — and checks them
/// with ``ServerSignatures``. Serves the leave decision (keys only) and room import (keys and check).
struct EventSignatureChecker: Sendable {
    let ownServer: String
    let ownKeys: [ExactString: Ed25519PublicKey]
    let fetcher: KeyFetcher
    /// How many signatures of one server are considered.
    let maximumSignaturesPerServer: Int

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

    /// Verifies the required signatures over `signingBytes` (the redacted event's canonical bytes).
    func verify(_ event: PDU, signingBytes: [UInt8]) async throws(ServerSignatures.Failure) {
        let use = KeyUse.event(originServerTS: event.originServerTS, enforcesKeyValidity: event.roomVersion.enforcesKeyValidity)
        for server in ServerSignatures.requiredServers(of: event) {
            guard let serverSignatures = event.json["signatures"]?[server]?.objectValue else {
                throw ServerSignatures.Failure(description: "event is not signed by \(server)")
            }
            let keys = await keys(for: [(server, serverSignatures)], use: use)
            try ServerSignatures.verify(
                serverSignatures, server: server, signingBytes: signingBytes, maximum: maximumSignaturesPerServer,
                keys: keys[ExactString(server)] ?? ServerSignatures.Keys())
        }
    }

    /// The key if it is ours or memory holds it; never fetches.
    func cachedKey(server: String, keyID: String, use: KeyUse) -> Ed25519PublicKey? {
        server.bytesEqual(ownServer) ? ownKeys[ExactString(keyID)] : fetcher.cachedKey(server: server, keyID: keyID, use: use)
    }

    func publicKey(server: String, keyID: String, use: KeyUse) async throws(KeyFetchError) -> Ed25519PublicKey {
        if server.bytesEqual(ownServer) {
            guard let key = ownKeys[ExactString(keyID)] else { throw .keyNotPublished(server: server, keyID: keyID) }
            return key
        }
        return try await fetcher.publicKey(server: server, keyID: keyID, use: use)
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
