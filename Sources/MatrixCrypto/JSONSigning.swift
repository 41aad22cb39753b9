import MatrixCore

/// Signing and checking JSON objects as the Matrix spec defines it: the signature covers the
/// canonical JSON of the object without its top-level `signatures` and `unsigned` members, and
/// lives at `signatures[<entity>][<key ID>]` in unpadded base64.
public enum JSONSigning {
    /// The bytes a signature covers: canonical JSON of `object` minus top-level `signatures` and `unsigned`
    /// (members of the same names deeper down are covered like any other).
    public static func signingBytes(of object: JSONObject) throws(CanonicalJSONError) -> [UInt8] {
        try object.removing("signatures", "unsigned").canonicalBytes()
    }

    /// The unpadded-base64 signature of `object` by `key`.
    public static func signature(of object: JSONObject, key: SigningKey) throws(CanonicalJSONError) -> String {
        Base64.encodeUnpadded(key.privateKey.signature(for: try signingBytes(of: object)))
    }

    /// Signs `object` minus top-level `signatures`/`unsigned`; returns the object with
    /// `signatures[entity][keyID]` added and every other signature (and `unsigned`) kept.
    public static func sign(_ object: JSONObject, entity: String, key: SigningKey) throws(CanonicalJSONError) -> JSONObject {
        adding(signature: try signature(of: object, key: key), entity: entity, keyID: key.keyID, to: object)
    }

    /// `event` with `entity`'s signature by `key` over `signingBytes` (the event's redacted signing
    /// bytes, ``EventHashing/redactedSigningBytes(of:version:)``) as the only one under `entity`:
    /// what the event carried under that name is dropped, since nothing but the entity's own
    /// signature may stand there (Synapse's `signatures.update` replaces the entry the same way).
    /// Other entities' signatures are kept.
    public static func signEvent(_ event: JSONObject, signingBytes: [UInt8], entity: String, key: SigningKey) -> JSONObject {
        var event = event
        if var signatures = event["signatures"]?.objectValue {
            signatures[entity] = nil
            event["signatures"] = .object(signatures)
        }
        return adding(
            signature: Base64.encodeUnpadded(key.privateKey.signature(for: signingBytes)), entity: entity, keyID: key.keyID,
            to: event)
    }

    /// `object` with `signatures[entity][keyID] = signature`, other signatures kept. A `signatures`
    /// member (or entity entry) that is not an object is replaced: it could not hold signatures anyway.
    public static func adding(signature: String, entity: String, keyID: String, to object: JSONObject) -> JSONObject {
        var signatures = object["signatures"]?.objectValue ?? JSONObject()
        var ofEntity = signatures[entity]?.objectValue ?? JSONObject()
        ofEntity[keyID] = .string(signature)
        signatures[entity] = .object(ofEntity)
        var signed = object
        signed["signatures"] = .object(signatures)
        return signed
    }

    /// The string-valued entries of `signatures[entity]` in key-ID order (empty if there are none).
    public static func signatures(of object: JSONObject, entity: String) -> [(keyID: String, signature: String)] {
        guard let ofEntity = object["signatures"]?[entity]?.objectValue else { return [] }
        return ofEntity.members.compactMap { member in
            member.value.stringValue.map { (keyID: member.key, signature: $0) }
        }
    }

    /// `true` iff `signatures[entity][keyID]` exists, is a string that decodes to 64 bytes, and
    /// verifies with `publicKey` over the canonical JSON of `object` minus `signatures`/`unsigned`.
    /// An object that cannot be written as canonical JSON never verifies.
    public static func verify(_ object: JSONObject, entity: String, keyID: String, publicKey: Ed25519PublicKey) -> Bool {
        guard let signature = object["signatures"]?[entity]?[keyID]?.stringValue,
              let bytes = try? signingBytes(of: object)
        else { return false }
        return verify(signature: signature, over: bytes, publicKey: publicKey)
    }

    /// Whether the unpadded-base64 (either alphabet, padding optional) `signature` is a valid
    /// Ed25519 signature of `bytes` by `publicKey`; an undecodable signature is simply invalid.
    public static func verify(signature: String, over bytes: [UInt8], publicKey: Ed25519PublicKey) -> Bool {
        guard let raw = Base64.decode(signature) else { return false }
        return publicKey.isValidSignature(raw, for: bytes)
    }
}
