import MatrixCore
import MatrixCrypto

/// The signature checks the auth rules make synchronously, over keys fetched beforehand:
/// v8+ `join_authorised_via_users_server` (the authorising server's signature on the event) and
/// third-party invites (the `signed` object, against keys the room's invite event publishes).
struct AuthSignatures: AuthSignatureVerifier {
    /// Public keys by server and key ID (byte for byte), fetched before the rules run.
    let keys: [ExactString: [ExactString: Ed25519PublicKey]]

    static let none = AuthSignatures(keys: [:])

    func isEvent(_ event: PDU, signedBy server: String) -> Bool {
        guard let serverKeys = keys[ExactString(server)],
            let signatures = event.json["signatures"]?[server]?.objectValue,
            let bytes = try? EventHashing.redactedSigningBytes(of: event.json, version: event.roomVersion)
        else { return false }
        return signatures.members.contains { member in
            guard let key = serverKeys[ExactString(member.key)], let text = member.value.stringValue,
                let signature = Base64.decode(text)
            else { return false }
            return key.isValidSignature(signature, for: bytes)
        }
    }

    func isThirdPartyInviteSigned(_ signed: JSONObject, publicKeys: [String]) -> Bool {
        guard let bytes = try? signed.removing("signatures", "unsigned").canonicalBytes(),
            let signatures = signed["signatures"]?.objectValue
        else { return false }
        let keys = publicKeys.compactMap { Base64.decode($0).flatMap { try? Ed25519PublicKey(bytes: $0) } }
        return signatures.members.contains { server in
            (server.value.objectValue?.members ?? []).contains { member in
                guard SigningKey.isEd25519KeyID(member.key), let text = member.value.stringValue,
                    let signature = Base64.decode(text)
                else { return false }
                return keys.contains { $0.isValidSignature(signature, for: bytes) }
            }
        }
    }
}

extension EventSignatureChecker {
    /// The keys the auth rules may need for `event`: those of the server named by
    /// `join_authorised_via_users_server`, if the event carries it.
    func authSignatures(for event: PDU) async -> AuthSignatures {
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
        return AuthSignatures(keys: [ExactString(server): serverKeys])
    }
}
