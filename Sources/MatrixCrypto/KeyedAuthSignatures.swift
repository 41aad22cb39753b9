import MatrixCore

/// The signature checks the auth rules make synchronously, over keys fetched beforehand:
/// v8+ `join_authorised_via_users_server` (the authorising server's signature on the event) and
/// third-party invites (the `signed` object, against keys the room's invite event publishes).
public struct KeyedAuthSignatures: AuthSignatureVerifier, Sendable {
    /// Public keys by server and key ID (byte for byte), fetched before the rules run.
    public let keys: [ExactString: [ExactString: Ed25519PublicKey]]

    /// No keys: every signature the rules ask about is missing (self-leaves need none).
    public static let none = KeyedAuthSignatures(keys: [:])

    public init(keys: [ExactString: [ExactString: Ed25519PublicKey]]) {
        self.keys = keys
    }

    public func isEvent(_ event: PDU, signedBy server: String) -> Bool {
        guard let serverKeys = keys[ExactString(server)],
            let signatures = event.json["signatures"]?[server]?.objectValue,
            let bytes = try? EventHashing.redactedSigningBytes(of: event.json, version: event.roomVersion)
        else { return false }
        return signatures.members.contains { member in
            guard let key = serverKeys[ExactString(member.key)], let text = member.value.stringValue else { return false }
            return JSONSigning.verify(signature: text, over: bytes, publicKey: key)
        }
    }

    public func isThirdPartyInviteSigned(_ signed: JSONObject, publicKeys: [String]) -> Bool {
        guard let bytes = try? JSONSigning.signingBytes(of: signed), let signatures = signed["signatures"]?.objectValue
        else { return false }
        let keys = publicKeys.compactMap { Base64.decode($0).flatMap { try? Ed25519PublicKey(bytes: $0) } }
        return signatures.members.contains { server in
            (server.value.objectValue?.members ?? []).contains { member in
                guard SigningKey.isEd25519KeyID(member.key), let text = member.value.stringValue else { return false }
                return keys.contains { JSONSigning.verify(signature: text, over: bytes, publicKey: $0) }
            }
        }
    }
}
