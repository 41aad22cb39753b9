import AsyncHTTPClient
import MatrixCore
import MatrixCrypto

/// Performs X-Matrix-signed federation requests as one server (`origin`) against a target server
/// (`destination`) reachable at `baseURL`, and returns the raw answers.
public struct FederationRequester: Sendable {
    /// What a request carries as its body.
    public enum Body: Sendable {
        case none
        /// A JSON body: sent as compact JSON and covered by the X-Matrix signature.
        case json(JSONValue)
        /// Bytes sent as they are; the signature covers `signedAs` (nil: signed as a request without content).
        case raw([UInt8], signedAs: JSONValue?)
    }

    /// How a request is authenticated.
    public enum Authorization: Sendable {
        /// An X-Matrix header signed by ``key``.
        case signed
        /// No `Authorization` header.
        case none
        /// This exact header value.
        case header(String)
    }

    /// The send_leave endpoint version.
    public enum SendLeaveVersion: Sendable {
        case v1, v2
    }

    public let origin: String
    public let key: SigningKey
    public let destination: String
    /// `scheme://host:port` of the target, without a trailing slash.
    public let baseURL: String
    public let httpClient: HTTPClient
    public var timeout: Duration

    public init(origin: String, key: SigningKey, destination: String, baseURL: String,
                httpClient: HTTPClient = .shared, timeout: Duration = .seconds(30)) {
        self.origin = origin
        self.key = key
        self.destination = destination
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.httpClient = httpClient
        self.timeout = timeout
    }

    /// `GET /_matrix/federation/v1/make_leave/{roomId}/{userId}`.
    public func makeLeave(roomID: String, userID: String) async throws -> FederationResponse {
        try await request(method: "GET", path: Self.makeLeavePath(roomID: roomID, userID: userID))
    }

    /// `PUT /_matrix/federation/{v1,v2}/send_leave/{roomId}/{eventId}` with `pdu` as the body.
    public func sendLeave(roomID: String, eventID: String, pdu: JSONObject,
                          version: SendLeaveVersion = .v2) async throws -> FederationResponse {
        try await request(method: "PUT", path: Self.sendLeavePath(roomID: roomID, eventID: eventID, version: version),
                          body: .json(.object(pdu)))
    }

    /// `GET /_matrix/federation/v1/event/{eventId}`.
    public func event(id eventID: String) async throws -> FederationResponse {
        try await request(method: "GET", path: "/_matrix/federation/v1/event/\(PathEncoding.encode(eventID))")
    }

    /// A request built and signed ahead of sending it (X-Matrix signatures carry no time, so a
    /// prepared request stays valid): the load generator prepares its send-only requests before
    /// the clock starts, so that it measures the target, not its own signing.
    public struct PreparedRequest: Sendable {
        fileprivate let request: HTTPClientRequest
    }

    /// `send(prepared)` is `sendLeave(roomID:eventID:pdu:version:)`.
    public func prepareSendLeave(roomID: String, eventID: String, pdu: JSONObject,
                                 version: SendLeaveVersion = .v2) throws -> PreparedRequest {
        try prepare(method: "PUT", path: Self.sendLeavePath(roomID: roomID, eventID: eventID, version: version),
                    body: .json(.object(pdu)))
    }

    /// Sends a prepared request and returns the answer.
    public func send(_ prepared: PreparedRequest) async throws -> FederationResponse {
        let response = try await httpClient.execute(prepared.request, timeout: .init(timeout))
        let buffer = try await response.body.collect(upTo: 16 << 20)
        return FederationResponse(status: Int(response.status.code),
                                  headers: response.headers.map { (name: $0.name, value: $0.value) },
                                  body: Array(buffer.readableBytesView))
    }

    /// Any request; `path` is the request target as sent (already percent-encoded, with any query).
    public func request(method: String, path: String, body: Body = .none,
                        authorization: Authorization = .signed) async throws -> FederationResponse {
        try await send(prepare(method: method, path: path, body: body, authorization: authorization))
    }

    /// Builds and signs a request without sending it.
    public func prepare(method: String, path: String, body: Body = .none,
                        authorization: Authorization = .signed) throws -> PreparedRequest {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = .init(rawValue: method)
        let (bytes, signedContent): ([UInt8]?, JSONValue?) = switch body {
        case .none: (nil, nil)
        case .json(let value): (value.compactBytes(), value)
        case .raw(let bytes, let signedAs): (bytes, signedAs)
        }
        switch authorization {
        case .signed:
            request.headers.add(name: "Authorization", value: try XMatrixRequest.authorizationHeader(
                method: method, uri: path, origin: origin, destination: destination,
                content: signedContent, key: key))
        case .none:
            break
        case .header(let value):
            request.headers.add(name: "Authorization", value: value)
        }
        if let bytes {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(bytes)
        }
        return PreparedRequest(request: request)
    }

    /// The make_leave request target for `roomID`/`userID`.
    public static func makeLeavePath(roomID: String, userID: String) -> String {
        "/_matrix/federation/v1/make_leave/\(PathEncoding.encode(roomID))/\(PathEncoding.encode(userID))"
    }

    /// The send_leave request target for `roomID`/`eventID`.
    public static func sendLeavePath(roomID: String, eventID: String, version: SendLeaveVersion) -> String {
        let prefix = version == .v1 ? "/_matrix/federation/v1" : "/_matrix/federation/v2"
        return "\(prefix)/send_leave/\(PathEncoding.encode(roomID))/\(PathEncoding.encode(eventID))"
    }
}
