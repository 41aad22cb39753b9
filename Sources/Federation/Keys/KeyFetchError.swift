import MatrixCrypto

/// Why no usable public key could be had for a (server, key ID).
public enum KeyFetchError: Error, Equatable, CustomStringConvertible {
    /// The server's key document was fetched but does not publish this key ID.
    case keyNotPublished(server: String, keyID: String)
    /// The key is known but not valid for this use (expired, or an old key used for a request).
    case keyNotValid(server: String, keyID: String, reason: String)
    /// The server answered, but not with a key document (non-200 status, not JSON, not an object).
    case badResponse(server: String, reason: String)
    /// The document is not acceptable: for another server, not self-signed, a bad signature, bad keys.
    case invalidDocument(server: String, error: ServerKeyError)
    /// No answer: connection, TLS or DNS failure.
    case unreachable(server: String, reason: String)
    /// No answer within the fetch timeout.
    case timedOut(server: String)

    /// Whether the failure says nothing about the key itself — the origin could not be asked — so
    /// the request's authenticity could not be decided.
    public var isUndecided: Bool {
        switch self {
        case .unreachable, .timedOut: return true
        case .keyNotPublished, .keyNotValid, .badResponse, .invalidDocument: return false
        }
    }

    public var description: String {
        switch self {
        case .keyNotPublished(let server, let keyID): return "\(server) does not publish key \(keyID)"
        case .keyNotValid(let server, let keyID, let reason): return "key \(keyID) of \(server) is not valid: \(reason)"
        case .badResponse(let server, let reason): return "\(server) sent no key document: \(reason)"
        case .invalidDocument(let server, let error): return "key document of \(server) refused: \(error)"
        case .unreachable(let server, let reason): return "cannot fetch the keys of \(server): \(reason)"
        case .timedOut(let server): return "fetching the keys of \(server) timed out"
        }
    }
}
