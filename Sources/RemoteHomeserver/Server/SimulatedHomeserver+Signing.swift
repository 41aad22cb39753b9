import AsyncHTTPClient
import MatrixCrypto

extension SimulatedHomeserver {
    /// This server as an event creator (with its current signing key).
    public var eventSigner: EventSigner { EventSigner(serverName: serverName, key: signingKey) }

    /// A client that sends requests from this server (signed with its current key) to
    /// `destination`, reachable at `baseURL`.
    public func requester(destination: String, baseURL: String, httpClient: HTTPClient = .shared) -> FederationRequester {
        FederationRequester(origin: serverName, key: signingKey, destination: destination, baseURL: baseURL,
                            httpClient: httpClient)
    }
}
