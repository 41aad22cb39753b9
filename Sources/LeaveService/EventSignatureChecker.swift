import Federation
import MatrixCore
import MatrixCrypto

/// Checks the signatures an event must carry (events-and-room-versions §5): the sender's server
/// and, in v1–v2, the server of the `event_id`. Keys come from this server's own keys or the
/// ``KeyFetcher``. Per required server only what the rules need is looked at (at most
/// ``maximumSignaturesPerServer`` signatures, keys at hand first, one valid signature suffices;
/// see ``ServerSignatureCheck``).
struct EventSignatureChecker: Sendable {
    let ownServer: String
    let ownKeys: [ExactString: Ed25519PublicKey]
    let fetcher: KeyFetcher
    /// How many signatures of one server are considered.
    let maximumSignaturesPerServer: Int

    /// The servers whose signatures `event` needs.
    static func requiredServers(of event: PDU) -> [String] {
        var servers: [String] = []
        if let user = UserID(event.sender, historical: true) { servers.append(user.server) }
        if let explicit = event.explicitEventID, let server = EventID(explicit)?.server,
            !servers.contains(where: { $0.bytesEqual(server) })
        {
            servers.append(server)
        }
        return servers
    }

    /// Verifies the required signatures over `signingBytes` (the redacted event's canonical bytes).
    func verify(_ event: PDU, signingBytes: [UInt8]) async throws(ServerSignatureCheck.Failure) {
        let signatures = event.json["signatures"]?.objectValue
        let use = KeyUse.event(originServerTS: event.originServerTS, enforcesKeyValidity: event.roomVersion.enforcesKeyValidity)
        for server in Self.requiredServers(of: event) {
            guard let serverSignatures = signatures?[server]?.objectValue else {
                throw ServerSignatureCheck.Failure(description: "event is not signed by \(server)", logDetail: nil)
            }
            try await ServerSignatureCheck.verify(
                serverSignatures, server: server, signingBytes: signingBytes, maximum: maximumSignaturesPerServer,
                knownKey: { keyID in cachedKey(server: server, keyID: keyID, use: use) },
                lookUp: { (keyID: String) async throws(KeyFetchError) -> Ed25519PublicKey in
                    try await publicKey(server: server, keyID: keyID, use: use)
                })
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
}
