import MatrixCore
import MatrixCrypto

/// Sends X-Matrix-signed requests to other servers as this server (e.g. forwarding a leave with
/// `PUT /_matrix/federation/v1/send/{txnId}`, or the load generator playing a remote server).
public struct FederationClient: Sendable {
    /// The name requests are signed as (`origin`).
    public let serverName: String
    public let signingKey: SigningKey
    public let transport: FederationTransport
    /// Bound on each request, connect to last body byte.
    public let timeout: Duration

    public init(serverName: String, signingKey: SigningKey, transport: FederationTransport,
                timeout: Duration = .seconds(10)) {
        self.serverName = serverName
        self.signingKey = signingKey
        self.transport = transport
        self.timeout = timeout
    }

    /// `GET target` on `server`, signed. `target` is sent exactly as given (already percent-encoded).
    public func get(_ server: String, target: String) async throws(FederationRequestError) -> FederationResponse {
        try await send(method: "GET", to: server, target: target, body: nil)
    }

    /// `PUT target` with a JSON body on `server`, signed.
    public func put(_ server: String, target: String, body: JSONValue) async throws(FederationRequestError) -> FederationResponse {
        try await send(method: "PUT", to: server, target: target, body: body)
    }

    /// `PUT target` on `server` with a JSON object body already written as `compactBytes()` with
    /// 64-bit integers only (see ``XMatrixRequest/signingBytes(method:uri:origin:destination:encodedContent:)``),
    /// signed over those exact bytes and sent as they are.
    public func put(_ server: String, target: String, encodedBody body: [UInt8]) async throws(FederationRequestError) -> FederationResponse {
        let bytes = XMatrixRequest.signingBytes(method: "PUT", uri: target, origin: serverName, destination: server,
                                                encodedContent: body)
        let authorization = XMatrixRequest.authorization(origin: serverName, destination: server, signingBytes: bytes,
                                                         key: signingKey)
        return try await transport.send(
            method: "PUT", to: server, target: target, headers: [("Authorization", authorization.headerValue)],
            body: body, timeout: timeout)
    }

    /// Any method, signed over `{method, uri: target, origin, destination: server[, content: body]}`.
    public func send(
        method: String, to server: String, target: String, body: JSONValue?
    ) async throws(FederationRequestError) -> FederationResponse {
        let authorization: String
        do {
            authorization = try XMatrixRequest.authorizationHeader(
                method: method, uri: target, origin: serverName, destination: server, content: body, key: signingKey)
        } catch {
            throw .invalidRequest("the body cannot be signed: \(error)")
        }
        return try await transport.send(
            method: method, to: server, target: target, headers: [("Authorization", authorization)],
            body: body.map { $0.compactBytes() }, timeout: timeout)
    }
}
