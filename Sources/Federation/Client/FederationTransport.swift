import AsyncHTTPClient
import Logging
import NIOCore
import NIOHTTP1
import Synchronization

/// An HTTP response from another server, its body read in full (up to a limit).
public struct FederationResponse: Sendable {
    public let status: Int
    public let headers: [(name: String, value: String)]
    public let body: [UInt8]
}

/// Sends plain HTTP requests to servers by server name, through ``FederationDestinations``:
/// the right URL, `Host` header and TLS name, a timeout covering the whole exchange, and a
/// bound on the response size. Redirects are not followed. Signing is ``FederationClient``'s job.
public final class FederationTransport: Sendable {
    public let destinations: FederationDestinations
    private let maximumResponseBytes: Int
    private let connectTimeout: Duration
    private let client: HTTPClient
    /// One client per SRV-delegated (host → target) pair: connecting to the target while checking
    /// TLS for the host needs AsyncHTTPClient's per-client `dnsOverride`.
    private let srvClients = Mutex<[String: HTTPClient]>([:])
    private static let maximumSRVClients = 64

    /// - Parameters:
    ///   - maximumResponseBytes: longer response bodies fail with ``FederationRequestError/responseTooLarge(server:limit:)``.
    ///   - connectTimeout: how long to keep trying to connect (AsyncHTTPClient retries refused
    ///     connections until then), within each request's own timeout.
    public init(destinations: FederationDestinations, maximumResponseBytes: Int = 1 << 20,
                connectTimeout: Duration = .seconds(3)) {
        self.destinations = destinations
        self.maximumResponseBytes = maximumResponseBytes
        self.connectTimeout = connectTimeout
        self.client = HTTPClient(
            eventLoopGroup: HTTPClient.defaultEventLoopGroup,
            configuration: Self.configuration(connectTimeout: connectTimeout))
    }

    private static func configuration(
        connectTimeout: Duration, dnsOverride: [String: String] = [:]
    ) -> HTTPClient.Configuration {
        var configuration = HTTPClient.Configuration(redirectConfiguration: .disallow)
        configuration.timeout.connect = .nanoseconds(connectTimeout.nanoseconds)
        configuration.dnsOverride = dnsOverride
        return configuration
    }

    /// Closes every connection. Call once, when done (does not shut down ``destinations``).
    public func shutdown() async throws {
        let extra = srvClients.withLock { clients in
            defer { clients.removeAll() }
            return Array(clients.values)
        }
        for client in extra { try await client.shutdown() }
        try await client.shutdown()
    }

    /// Sends `method target` (the raw request target, sent exactly as given) to `server`.
    public func send(
        method: String, to server: String, target: String,
        headers: [(name: String, value: String)] = [], body: [UInt8]? = nil, timeout: Duration
    ) async throws(FederationRequestError) -> FederationResponse {
        let destination = try await destinations.destination(for: server)
        let request = Self.request(method: method, destination: destination, target: target, headers: headers, body: body)
        let client = self.client(for: destination)
        let limit = maximumResponseBytes
        do {
            return try await withDeadline(timeout) {
                let response = try await client.execute(request, timeout: .nanoseconds(timeout.nanoseconds))
                let body = try await response.body.collect(upTo: limit)
                return FederationResponse(
                    status: Int(response.status.code),
                    headers: response.headers.map { ($0.name, $0.value) },
                    body: Array(buffer: body))
            }
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

    /// The shared client, or for an SRV destination the client that connects to its target.
    private func client(for destination: FederationDestination) -> HTTPClient {
        guard let connectHost = destination.connectHost else { return client }
        let key = "\(destination.host) \(connectHost)"
        let (client, evicted) = srvClients.withLock { clients -> (HTTPClient, HTTPClient?) in
            if let existing = clients[key] { return (existing, nil) }
            var evicted: HTTPClient?
            if clients.count >= Self.maximumSRVClients, let victim = clients.keys.first {
                evicted = clients.removeValue(forKey: victim)
            }
            let created = HTTPClient(
                eventLoopGroup: HTTPClient.defaultEventLoopGroup,
                configuration: Self.configuration(
                    connectTimeout: connectTimeout, dnsOverride: [destination.host: connectHost]))
            clients[key] = created
            return (created, evicted)
        }
        if let evicted {
            // Requests still running on it are bounded by their timeouts; close it after a minute.
            Task {
                try? await Task.sleep(for: .seconds(60))
                try? await evicted.shutdown()
            }
        }
        return client
    }
}
