import MatrixCrypto

/// Why a federation request was not authenticated.
///
/// HTTP mapping (INTERFACE.md): ``refused(_:)`` and ``keyRejected(_:)`` are `401 M_UNAUTHORIZED`;
/// ``keyServerUnavailable(_:)`` means the origin's keys could not be fetched in time (now or within
/// the back-off period), so nothing was decided: WorkerApp answers `503 M_UNKNOWN` with
/// `Retry-After`, so that the origin retries instead of taking the refusal as final.
public enum XMatrixAuthenticationError: Error, Equatable, CustomStringConvertible {
    /// The credentials are refused: no or malformed header, wrong destination, bad signature,
    /// body not canonical-JSON material.
    case refused(XMatrixError)
    /// The origin's key is unusable: not published, expired or an old key, or the origin's key
    /// document is invalid (another server's, not self-signed, bad signature, not JSON).
    case keyRejected(KeyFetchError)
    /// The origin's key server was unreachable or timed out (now or within the back-off period).
    case keyServerUnavailable(KeyFetchError)

    public var description: String {
        switch self {
        case .refused(let error): return error.description
        case .keyRejected(let error): return error.description
        case .keyServerUnavailable(let error): return error.description
        }
    }
}
