/// Why a fetched `/_matrix/key/v2/server` document was refused.
public enum ServerKeyError: Error, Equatable, CustomStringConvertible {
    /// `server_name` is missing or is not the server that was asked.
    case wrongServer(expected: String, found: String?)
    /// A required member is missing or has the wrong type.
    case malformed(String)
    /// A published key does not decode to a 32-byte Ed25519 public key.
    case invalidKey(keyID: String)
    /// No signature of the server by any key its document publishes.
    case unsigned
    /// A self-signature by a published key does not verify.
    case badSignature(keyID: String)
    /// `verify_keys` and `old_verify_keys` list more keys together than accepted.
    case tooManyKeys(count: Int, limit: Int)

    public var description: String {
        switch self {
        case .wrongServer(let expected, let found):
            return "key document is for \(found.map { "\"\($0)\"" } ?? "no server"), expected \(expected)"
        case .malformed(let reason): return "malformed key document: \(reason)"
        case .invalidKey(let keyID): return "key \(keyID) is not a 32-byte Ed25519 key in unpadded base64"
        case .unsigned: return "key document is not signed by any key it publishes"
        case .badSignature(let keyID): return "key document signature by \(keyID) does not verify"
        case .tooManyKeys(let count, let limit): return "key document lists \(count) keys, more than \(limit)"
        }
    }
}
