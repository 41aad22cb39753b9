import MatrixCore
import MatrixCrypto

/// The auth rules' signature checks done for real with Ed25519: an event's signature by a server
/// over its redacted signing bytes, and a third-party invite's `signed` object over its
/// canonical JSON.
struct Ed25519AuthSignatures: AuthSignatureVerifier {
    /// Known public keys by server name and key ID.
    let serverKeys: [String: [String: Ed25519PublicKey]]

    func isEvent(_ event: PDU, signedBy server: String) -> Bool {
        guard let signatures = event.json["signatures"]?[server]?.objectValue, let keys = serverKeys[server],
            let message = try? EventHashing.redactedSigningBytes(of: event.json, version: event.roomVersion)
        else { return false }
        return signatures.members.contains { signature in
            guard let key = keys[signature.key], let bytes = signature.value.stringValue.flatMap(Base64.decode) else {
                return false
            }
            return key.isValidSignature(bytes, for: message)
        }
    }

    func isThirdPartyInviteSigned(_ signed: JSONObject, publicKeys: [String]) -> Bool {
        guard let message = try? signed.removing("signatures", "unsigned").canonicalBytes() else { return false }
        let keys = publicKeys.compactMap { Base64.decode($0).flatMap { try? Ed25519PublicKey(bytes: $0) } }
        for server in signed["signatures"]?.objectValue?.members ?? [] {
            for signature in server.value.objectValue?.members ?? [] where signature.key.hasPrefix("ed25519:") {
                guard let bytes = signature.value.stringValue.flatMap(Base64.decode) else { continue }
                if keys.contains(where: { $0.isValidSignature(bytes, for: message) }) { return true }
            }
        }
        return false
    }
}
