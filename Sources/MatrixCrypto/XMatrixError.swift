/// Why a federation request failed X-Matrix authentication. Every case is a `401 M_UNAUTHORIZED`
/// except ``nonCanonicalBody(_:)``, whose body is bad JSON material (`400 M_BAD_JSON`).
public enum XMatrixError: Error, Equatable, CustomStringConvertible {
    /// No `Authorization` header with the `X-Matrix` scheme.
    case missing
    /// An `X-Matrix` header that cannot be parsed, lacks `origin`/`key`/`sig`, has an invalid origin,
    /// or several headers naming different origins.
    case malformed(String)
    /// The header's `destination` (given) is not this server.
    case wrongDestination(String)
    /// No usable public key for any of the origin's key IDs (unknown algorithm, unknown key, expired key).
    case unknownKey(origin: String, keyID: String)
    /// A key was found but the signature does not verify over the request.
    case badSignature(origin: String, keyID: String)
    /// The body holds a number canonical JSON cannot carry (a float, or an integer beyond 64 bits),
    /// so the signed bytes cannot be rebuilt.
    case nonCanonicalBody(String)

    public var description: String {
        switch self {
        case .missing: return "Missing X-Matrix Authorization header"
        case .malformed(let reason): return "Malformed X-Matrix Authorization header: \(reason)"
        case .wrongDestination(let destination): return "Destination mismatch in Authorization header: \(destination)"
        case .unknownKey(let origin, let keyID): return "No usable key \(keyID) for \(origin)"
        case .badSignature(let origin, let keyID): return "Invalid signature by \(origin) with key \(keyID)"
        case .nonCanonicalBody(let number): return "Request body contains a non-canonical number: \(number)"
        }
    }
}
