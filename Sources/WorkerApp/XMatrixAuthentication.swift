import Federation
import LeaveService
import MatrixCore

/// Maps X-Matrix authentication onto Matrix errors: every refusal is 401 `M_UNAUTHORIZED`, except a
/// body with a non-integer number, which cannot be canonical JSON at all (400 `M_BAD_JSON`, as the
/// contract asks of every non-canonical number, before any signature is looked at); when
/// the origin's key server could not be reached or timed out, our side could not decide, and the
/// answer is 503 `M_UNKNOWN` with `Retry-After` so the origin retries (never a 500). Key-fetch
/// failures are told in the origin's terms ("could not fetch the signing keys of origin X"); what
/// went wrong on the way (connection errors, addresses, TLS) goes to the log only.
struct XMatrixAuthentication: Sendable {
    let authenticator: XMatrixAuthenticator

    init(serverName: String, keys: KeyFetcher, maximumAuthorizations: Int) {
        authenticator = XMatrixAuthenticator(serverName: serverName, keys: keys, maximumAuthorizations: maximumAuthorizations)
    }

    func authenticate(method: String, target: String, authorization: [String], body: JSONValue?) async throws(MatrixError) -> String {
        do {
            return try await authenticator.authenticate(
                method: method, target: target, authorizationHeaders: authorization, content: body)
        } catch {
            switch error {
            case .refused(.nonCanonicalBody(let reason)):
                throw .badJSON("Body is not canonical JSON: \(reason)")
            case .keyServerUnavailable(let failure):
                throw MatrixError.unavailable(failure.remoteDescription, retryAfterMilliseconds: 5000)
                    .withLogDetail(failure.description)
            case .keyRejected(let failure):
                throw MatrixError.unauthorized(failure.remoteDescription).withLogDetail(failure.description)
            default:
                throw .unauthorized("\(error)")
            }
        }
    }
}
