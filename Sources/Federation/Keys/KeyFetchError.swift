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
    /// The server's address is one outbound federation may not reach (loopback, private, …): not asked.
    case destinationNotAllowed(server: String, reason: String)
    /// This process already runs as many key fetches as allowed, and no slot freed up in time.
    case overloaded(server: String)

    /// Whether the failure says nothing about the key itself — the origin could not be asked — so
    /// the request's authenticity could not be decided.
    public var isUndecided: Bool {
        switch self {
        case .unreachable, .timedOut, .overloaded: return true
        case .keyNotPublished, .keyNotValid, .badResponse, .invalidDocument, .destinationNotAllowed: return false
        }
    }

    /// The server whose key was wanted.
    public var server: String {
        switch self {
        case .keyNotPublished(let server, _), .keyNotValid(let server, _, _), .badResponse(let server, _),
             .invalidDocument(let server, _), .unreachable(let server, _), .timedOut(let server),
             .destinationNotAllowed(let server, _), .overloaded(let server):
            return server
        }
    }

    /// The failure as told to a remote server: in its terms, without this side's internals
    /// (connection errors, addresses, TLS codes — those are in ``description``, for the log).
    public var remoteDescription: String {
        switch self {
        case .keyNotPublished, .keyNotValid: return description
        case .badResponse, .invalidDocument, .unreachable, .timedOut, .destinationNotAllowed, .overloaded:
            return "Could not fetch the signing keys of origin \(server)"
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
        case .destinationNotAllowed(let server, let reason): return "not fetching the keys of \(server): \(reason)"
        case .overloaded(let server): return "no key fetch slot free in time for \(server)"
        }
    }
}
