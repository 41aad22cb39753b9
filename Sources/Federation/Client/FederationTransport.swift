import MatrixCore
import AsyncHTTPClient
import Logging
import NIOCore
import NIOHTTP1

/// An HTTP response from another server, its body read in full (up to a limit).
public struct FederationResponse: Sendable {
    public let status: Int
    public let headers: [(name: String, value: String)]
    public let body: [UInt8]
}

/// Sends plain HTTP requests to servers by server name, through ``FederationDestinations``:
/// the right URL, `Host` header and TLS name, a timeout covering the whole exchange, and a
/// bound on the response size. Redirects are not followed. Signing is ``FederationClient``'s job.
/// The connections belong to ``FederationDestinations/connector`` (closed by its `shutdown()`).
public final class FederationTransport: Sendable {
    public let destinations: FederationDestinations
    private let maximumResponseBytes: Int

    /// - Parameters:
    ///   - maximumResponseBytes: longer response bodies fail with ``FederationRequestError/responseTooLarge(server:limit:)``
    ///     (a request may set a lower bound).
    public init(destinations: FederationDestinations, maximumResponseBytes: Int = 1 << 20) {
        self.destinations = destinations
        self.maximumResponseBytes = maximumResponseBytes
    }

    /// Sends `method target` (the raw request target, sent exactly as given) to `server`. Servers
    /// not named in the overrides are reached only at addresses the ``OutboundAddressPolicy`` permits.
    /// `timeout` bounds the whole send, server discovery included (a sender's lease is chosen longer
    /// than it).
    /// - Parameter maximumResponseBytes: a lower bound on the response body for this request.
    public func send(
        method: String, to server: String, target: String,
        headers: [(name: String, value: String)] = [], body: [UInt8]? = nil, timeout: Duration,
        maximumResponseBytes: Int? = nil
    ) async throws(FederationRequestError) -> FederationResponse {
        let destinations = destinations
        let isOverride = destinations.overrides.destinations[server] != nil
        let connector = destinations.connector
        let limit = min(maximumResponseBytes ?? self.maximumResponseBytes, self.maximumResponseBytes)
        do {
            return try await withDeadline(timeout) {
                let destination = try await destinations.destination(for: server)
                // Abandoned at the timeout while discovery ran on: send nothing (the caller's lease may be over).
                try Task.checkCancellation()
                let request = Self.request(method: method, destination: destination, target: target, headers: headers, body: body)
                let exchange = { (client: HTTPClient) async throws -> FederationResponse in
                    let response = try await client.execute(request, timeout: .nanoseconds(timeout.saturatingNanoseconds))
                    let body = try await response.body.collect(upTo: limit)
                    return FederationResponse(
                        status: Int(response.status.code),
                        headers: response.headers.map { ($0.name, $0.value) },
                        body: Array(buffer: body))
                }
                if isOverride { return try await exchange(connector.overrideClient()) }
                return try await connector.withCheckedClient(
                    server: server, host: destination.host, connectHost: destination.connectHost, exchange)
            }
        } catch let error as FederationRequestError {
            throw error
        } catch is DeadlineExceeded {
            throw .timedOut(server: server)
        } catch is NIOTooManyBytesError {
            throw .responseTooLarge(server: server, limit: limit)
        } catch let error as HTTPClientError
            where [.deadlineExceeded, .connectTimeout, .readTimeout, .writeTimeout].contains(error) {
            throw .timedOut(server: server)
        } catch {
            throw .unreachable(server: server, reason: "\(error)")
        }
    }

    private static func request(
        method: String, destination: FederationDestination, target: String,
        headers: [(name: String, value: String)], body: [UInt8]?
    ) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: destination.url(target: target))
        request.method = HTTPMethod(rawValue: method)
        request.headers.replaceOrAdd(name: "Host", value: destination.hostHeader)
        for header in headers { request.headers.add(name: header.name, value: header.value) }
        if let body {
            request.headers.replaceOrAdd(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        return request
    }
}
