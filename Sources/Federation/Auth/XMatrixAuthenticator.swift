import MatrixCore
import MatrixCrypto

/// Authenticates incoming federation requests (X-Matrix): rebuilds the signed request from the
/// method, the raw request target, the origin, this server's name and the parsed body, and checks
/// the origin's signature with its published key (from ``KeyFetcher``). Any one valid
/// `Authorization: X-Matrix` header suffices; only the first ``maximumAuthorizations`` are tried.
public struct XMatrixAuthenticator: Sendable {
    /// This server's name: the only acceptable `destination`.
    public let serverName: String
    public let keys: KeyFetcher
    /// How many `Authorization` headers of a request are tried (each may cost a key look-up).
    public let maximumAuthorizations: Int

    public init(serverName: String, keys: KeyFetcher,
                maximumAuthorizations: Int = XMatrixRequest.defaultMaximumAuthorizations) {
        self.serverName = serverName
        self.keys = keys
        self.maximumAuthorizations = maximumAuthorizations
    }

    /// The authenticated origin server of a request.
    /// - Parameters:
    ///   - method: the HTTP method as on the request line (`GET`, `PUT`).
    ///   - target: the raw request target as received (path as sent, plus `?query`).
    ///   - authorizationHeaders: every `Authorization` header value, in order.
    ///   - content: the parsed JSON body; `nil` for a request without a body.
    public func authenticate(
        method: String, target: String, authorizationHeaders: [String], content: JSONValue?
    ) async throws(XMatrixAuthenticationError) -> String {
        let keys = self.keys
        var keyFailure: KeyFetchError?
        do {
            return try await XMatrixRequest.authenticate(
                method: method, uri: target, serverName: serverName, content: content,
                authorizationHeaders: authorizationHeaders, maximumAuthorizations: maximumAuthorizations
            ) { (origin, keyID) async throws(KeyFetchError) -> Ed25519PublicKey? in
                do throws(KeyFetchError) {
                    return try await keys.publicKey(server: origin, keyID: keyID, use: .request(now: keys.currentTime()))
                } catch {
                    switch error {
                    case .keyNotPublished, .keyNotValid:
                        keyFailure = error   // another header may name a usable key
                        return nil
                    case .badResponse, .invalidDocument, .unreachable, .timedOut, .destinationNotAllowed, .overloaded:
                        throw error
                    }
                }
            }
        } catch let error as XMatrixError {
            if case .unknownKey = error, let keyFailure { throw .keyRejected(keyFailure) }
            throw .refused(error)
        } catch let error as KeyFetchError {
            throw error.isUndecided ? .keyServerUnavailable(error) : .keyRejected(error)
        } catch {
            throw .refused(.malformed("\(error)"))
        }
    }
}
