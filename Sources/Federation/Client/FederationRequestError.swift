/// Why an outgoing request to another server got no HTTP response.
public enum FederationRequestError: Error, Equatable, CustomStringConvertible {
    /// The name is not a valid server name, so it cannot be looked up.
    case invalidServerName(String)
    /// The server's address lies in a range outbound federation may not reach (loopback, private,
    /// link-local, …; see ``OutboundAddressPolicy``): no connection was attempted.
    case forbiddenAddress(server: String, address: String, range: String)
    /// Connection, TLS or DNS failure.
    case unreachable(server: String, reason: String)
    /// No complete response within the timeout.
    case timedOut(server: String)
    /// The response body was longer than allowed.
    case responseTooLarge(server: String, limit: Int)
    /// The request could not be built (e.g. a body that is not canonical JSON).
    case invalidRequest(String)

    public var description: String {
        switch self {
        case .invalidServerName(let name): return "\"\(name)\" is not a valid server name"
        case .forbiddenAddress(let server, let address, let range):
            return "\(server) is at \(address), a \(range) address outbound federation may not reach"
        case .unreachable(let server, let reason): return "\(server) is unreachable: \(reason)"
        case .timedOut(let server): return "\(server) did not answer in time"
        case .responseTooLarge(let server, let limit): return "\(server) sent a response over \(limit) bytes"
        case .invalidRequest(let reason): return "cannot build the request: \(reason)"
        }
    }
}
