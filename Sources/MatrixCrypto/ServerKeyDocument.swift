import MatrixCore

/// A server's keys as published at `GET /_matrix/key/v2/server`, after verification.
public struct VerifiedServerKeys: Sendable {
    public let serverName: String
    /// Until when (ms) the `verify_keys` may be used, as the server published it.
    public let validUntilTS: Int64
    /// Current keys by key ID (Ed25519 only; other algorithms are skipped).
    public let verifyKeys: [String: Ed25519PublicKey]
    /// Retired keys by key ID with the time they expired.
    public let oldVerifyKeys: [String: (key: Ed25519PublicKey, expiredTS: Int64)]

    public init(serverName: String, validUntilTS: Int64, verifyKeys: [String: Ed25519PublicKey],
                oldVerifyKeys: [String: (key: Ed25519PublicKey, expiredTS: Int64)]) {
        self.serverName = serverName
        self.validUntilTS = validUntilTS
        self.verifyKeys = verifyKeys
        self.oldVerifyKeys = oldVerifyKeys
    }
}

/// Building our own key document and verifying the ones other servers publish.
public enum ServerKeyDocument {
    /// How many keys (`verify_keys` and `old_verify_keys` together) a fetched document may list.
    public static let defaultMaximumKeys = 16

    /// Our document: `server_name`, `valid_until_ts`, every current key in `verify_keys`, retired keys in
    /// `old_verify_keys`, signed by every current key. Throws only if `validUntil` exceeds 2^53−1.
    public static func make(serverName: String, keys: [SigningKey], oldKeys: [OldVerifyKey],
                            validUntil: Int64) throws(CanonicalJSONError) -> JSONObject {
        var verifyKeys = JSONObject()
        for key in keys {
            verifyKeys[key.keyID] = ["key": .string(key.publicKeyBase64)]
        }
        var oldVerifyKeys = JSONObject()
        for old in oldKeys {
            oldVerifyKeys[old.keyID] = ["key": .string(Base64.encodeUnpadded(old.publicKey.bytes)),
                                        "expired_ts": .integer(old.expiredTS)]
        }
        var document: JSONObject = [
            "server_name": .string(serverName),
            "valid_until_ts": .integer(validUntil),
            "verify_keys": .object(verifyKeys),
            "old_verify_keys": .object(oldVerifyKeys),
        ]
        let bytes = try JSONSigning.signingBytes(of: document)
        for key in keys {
            let signature = Base64.encodeUnpadded(key.privateKey.signature(for: bytes))
            document = JSONSigning.adding(signature: signature, entity: serverName, keyID: key.keyID, to: document)
        }
        return document
    }

    /// Verifies a fetched document: `server_name` equals `expectedServer`; `valid_until_ts` is an
    /// integer; every Ed25519 key in `verify_keys` (and `old_verify_keys`, which also need `expired_ts`)
    /// decodes to 32 bytes; the server signed the document with at least one key it publishes in
    /// `verify_keys`, and every such signature present verifies (Synapse checks one). Which of the
    /// listed keys signed does not matter: a key the document lists is the server's whether or not
    /// it signed this copy.
    /// A document listing more than `maximumKeys` entries in `verify_keys` and `old_verify_keys`
    /// together (any algorithm) is refused before any key is decoded or signature checked.
    public static func verify(_ document: JSONObject, expectedServer: String,
                              maximumKeys: Int = defaultMaximumKeys) throws(ServerKeyError) -> VerifiedServerKeys {
        let serverName = document["server_name"]?.stringValue
        guard let serverName, serverName.utf8.elementsEqual(expectedServer.utf8) else {
            throw .wrongServer(expected: expectedServer, found: serverName)
        }
        let keyCount = ["verify_keys", "old_verify_keys"].reduce(0) { $0 + (document[$1]?.objectValue?.members.count ?? 0) }
        guard keyCount <= maximumKeys else { throw .tooManyKeys(count: keyCount, limit: maximumKeys) }
        guard let validUntilTS = document["valid_until_ts"]?.integerValue else {
            throw .malformed("valid_until_ts is missing or not an integer")
        }
        let verifyKeys = try publicKeys(document, member: "verify_keys", required: true)
        var oldVerifyKeys: [String: (key: Ed25519PublicKey, expiredTS: Int64)] = [:]
        for (keyID, key, entry) in try publicKeys(document, member: "old_verify_keys", required: false) {
            guard let expiredTS = entry["expired_ts"]?.integerValue else {
                throw .malformed("old_verify_keys.\(keyID) has no integer expired_ts")
            }
            oldVerifyKeys[keyID] = (key, expiredTS)
        }
        let keysByID = Dictionary(verifyKeys.map { ($0.keyID, $0.key) }, uniquingKeysWith: { first, _ in first })
        try checkSelfSignatures(document, serverName: serverName, keys: keysByID)
        return VerifiedServerKeys(serverName: serverName, validUntilTS: validUntilTS,
                                  verifyKeys: keysByID, oldVerifyKeys: oldVerifyKeys)
    }

    /// The Ed25519 entries of `document[member]`, each `{"key": <32 bytes, unpadded base64>, …}`.
    private static func publicKeys(_ document: JSONObject, member: String, required: Bool)
        throws(ServerKeyError) -> [(keyID: String, key: Ed25519PublicKey, entry: JSONObject)]
    {
        guard let value = document[member] else {
            if required { throw .malformed("\(member) is missing") }
            return []
        }
        guard let entries = value.objectValue else { throw .malformed("\(member) is not an object") }
        var result: [(keyID: String, key: Ed25519PublicKey, entry: JSONObject)] = []
        for entry in entries.members where SigningKey.isEd25519KeyID(entry.key) {
            guard let object = entry.value.objectValue,
                  let text = object["key"]?.stringValue,
                  let bytes = Base64.decode(text),
                  let key = try? Ed25519PublicKey(bytes: bytes)
            else { throw .invalidKey(keyID: entry.key) }
            result.append((entry.key, key, object))
        }
        return result
    }

    private static func checkSelfSignatures(_ document: JSONObject, serverName: String,
                                            keys: [String: Ed25519PublicKey]) throws(ServerKeyError) {
        // Only Ed25519 key IDs (printable ASCII): `keys[…]` on a String key would find the key
        // `ed25519:K` for a signature labelled `ed25519:\u{212A}`.
        let signatures = JSONSigning.signatures(of: document, entity: serverName).filter {
            SigningKey.isEd25519KeyID($0.keyID) && keys[$0.keyID] != nil
        }
        guard !signatures.isEmpty else { throw .unsigned }
        guard let bytes = try? JSONSigning.signingBytes(of: document) else {
            throw .malformed("document holds numbers canonical JSON cannot carry")
        }
        for (keyID, signature) in signatures {
            guard let key = keys[keyID], JSONSigning.verify(signature: signature, over: bytes, publicKey: key) else {
                throw .badSignature(keyID: keyID)
            }
        }
    }
}
