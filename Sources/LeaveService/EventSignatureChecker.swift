import Federation
import MatrixCore
import MatrixCrypto

/// Checks the signatures an event must carry (events-and-room-versions §5): the sender's server
/// and, in v1–v2, the server of the `event_id`. Keys come from this server's own keys or the
/// ``KeyFetcher``. As Synapse does, every signature of a required server whose key can be had must
/// verify, and at least one must.
struct EventSignatureChecker: Sendable {
    /// Why an event's signatures are not acceptable.
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    let ownServer: String
    let ownKeys: [ExactString: Ed25519PublicKey]
    let fetcher: KeyFetcher

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
    func verify(_ event: PDU, signingBytes: [UInt8]) async throws(Failure) {
        let signatures = event.json["signatures"]?.objectValue
        let use = KeyUse.event(originServerTS: event.originServerTS, enforcesKeyValidity: event.roomVersion.enforcesKeyValidity)
        for server in Self.requiredServers(of: event) {
            guard let serverSignatures = signatures?[server]?.objectValue else {
                throw Failure(description: "event is not signed by \(server)")
            }
            var verified = 0
            var keyProblems: [String] = []
            for member in serverSignatures.members where SigningKey.isEd25519KeyID(member.key) {
                guard let text = member.value.stringValue, let signature = Base64.decode(text) else {
                    throw Failure(description: "signature \(member.key) of \(server) is not base64")
                }
                let key: Ed25519PublicKey
                do {
                    key = try await publicKey(server: server, keyID: member.key, use: use)
                } catch {
                    keyProblems.append("\(error)")
                    continue
                }
                guard key.isValidSignature(signature, for: signingBytes) else {
                    throw Failure(description: "signature \(member.key) of \(server) does not verify")
                }
                verified += 1
            }
            if verified == 0 {
                let why = keyProblems.isEmpty ? "" : " (\(keyProblems.joined(separator: "; ")))"
                throw Failure(description: "no verifiable signature of \(server) with a known key\(why)")
            }
        }
    }

    func publicKey(server: String, keyID: String, use: KeyUse) async throws(KeyFetchError) -> Ed25519PublicKey {
        if server.bytesEqual(ownServer) {
            guard let key = ownKeys[ExactString(keyID)] else { throw .keyNotPublished(server: server, keyID: keyID) }
            return key
        }
        return try await fetcher.publicKey(server: server, keyID: keyID, use: use)
    }
}
