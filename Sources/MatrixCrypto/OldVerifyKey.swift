import MatrixCore

/// A retired public key of this server, published under `old_verify_keys` with the time it expired.
public struct OldVerifyKey: Sendable, Equatable {
    /// `ed25519:<version>`.
    public let keyID: String
    public let publicKey: Ed25519PublicKey
    /// When the key stopped being used (ms since the epoch).
    public let expiredTS: Int64

    public init(keyID: String, publicKey: Ed25519PublicKey, expiredTS: Int64) {
        self.keyID = keyID
        self.publicKey = publicKey
        self.expiredTS = expiredTS
    }

    /// Retires one of our signing keys (only its public half is kept).
    public init(retiring key: SigningKey, expiredTS: Int64) {
        self.init(keyID: key.keyID, publicKey: key.publicKey, expiredTS: expiredTS)
    }

    /// Reads an old-keys file as `signedjson.key.read_old_signing_keys` does: one
    /// `ed25519 <version> <expired_ts> <unpadded base64 public key>` per line (blank lines ignored).
    /// The last column is the retired **public** (verify) key, never a seed; `expired_ts` is at
    /// most 2^53 − 1 (it is published, in canonical JSON).
    public static func parseKeyFile(_ text: String) throws(SigningKeyError) -> [OldVerifyKey] {
        var keys: [OldVerifyKey] = []
        var seen: Set<String> = []
        for line in KeyFile.lines(text) {
            let keyID = try KeyFile.keyID(of: line, layout: "ed25519 <version> <expired_ts> <public key>",
                                          fieldCount: 4)
            try KeyFile.checkUnique(keyID, line: line.number, seen: &seen)
            guard let expiredTS = Int64(line.fields[2]), expiredTS >= 0 else {
                throw .malformedLine(line: line.number, reason: "expired_ts \"\(line.fields[2])\" is not a timestamp in ms")
            }
            // Published in our key document, which is signed as canonical JSON.
            guard expiredTS <= JSONValue.maxCanonicalInteger else {
                throw .malformedLine(line: line.number,
                                     reason: "expired_ts \"\(line.fields[2])\" is above 2^53 - 1, the largest integer canonical JSON carries")
            }
            let bytes = try KeyFile.keyBytes(line.fields[3], line: line.number, what: "the public key")
            do {
                keys.append(OldVerifyKey(keyID: keyID, publicKey: try Ed25519PublicKey(bytes: bytes), expiredTS: expiredTS))
            } catch {
                throw .library(error)
            }
        }
        return keys
    }
}
