import MatrixCore

/// A federation endpoint's answer: status, headers and body (parsed once if it is JSON).
public struct FederationResponse: Sendable {
    public let status: Int
    /// Response headers as received (name, value), in order.
    public let headers: [(name: String, value: String)]
    public let body: [UInt8]
    /// The body as JSON, or `nil` if it is empty or not JSON.
    public let json: JSONValue?

    public init(status: Int, headers: [(name: String, value: String)], body: [UInt8]) {
        self.status = status
        self.headers = headers
        self.body = body
        self.json = body.isEmpty ? nil : try? JSONParser.parse(body)
    }

    /// `errcode` of a Matrix error body.
    public var errcode: String? { json?["errcode"]?.stringValue }

    /// The first value of header `name` (case-insensitive).
    public func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }
}
