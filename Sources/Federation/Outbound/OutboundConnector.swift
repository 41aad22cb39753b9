import MatrixCore
import BoundedCollections
import AsyncHTTPClient
import Synchronization

/// The HTTP clients outbound federation connects through, and the check that keeps them off
/// restricted addresses (``OutboundAddressPolicy``).
///
/// AsyncHTTPClient resolves host names itself, so checking a name's addresses beforehand would
/// leave a window for DNS to answer differently at connect time. Instead the name is resolved
/// here (``HostResolver``), the first permitted address is chosen, and the request goes through a
/// client whose `dnsOverride` maps the name to that literal address: the connection goes exactly
/// to the checked address while TLS is still verified (and SNI sent) for the name. IP literals
/// are checked directly. A permitted answer is reused for ``resolutionLifetime`` (names are not
/// resolved for every request); the pinned clients are kept in a bounded LRU map and closed when
/// evicted.
public final class OutboundConnector: Sendable {
    public let policy: OutboundAddressPolicy
    private let resolver: HostResolver
    private let connectTimeout: Duration
    /// For URLs whose host is an IP literal (checked) or an override (not checked).
    private let shared: HTTPClient
    /// Clients pinning one host name to one checked address, by "host address".
    private let pinned: Mutex<BoundedLRU<String, HTTPClient>>
    /// The permitted address chosen for a host name, reused for a while.
    private let resolutions: ExpiringCache<String, IPAddress>
    /// How long a permitted address of a host name is reused.
    static let resolutionLifetime: Duration = .seconds(60)

    /// - Parameters:
    ///   - connectTimeout: how long to keep trying to connect (AsyncHTTPClient retries refused
    ///     connections until then), within each request's own timeout.
    ///   - maximumPinnedClients: how many (host, address) clients are kept open (and host names'
    ///     resolutions remembered: ten times as many).
    public init(policy: OutboundAddressPolicy = .publicOnly, resolver: HostResolver = .system(),
                connectTimeout: Duration = .seconds(3), maximumPinnedClients: Int = 256) {
        self.policy = policy
        self.resolver = resolver
        self.connectTimeout = connectTimeout
        self.shared = Self.makeClient(connectTimeout: connectTimeout, dnsOverride: [:])
        self.pinned = Mutex(BoundedLRU(capacity: maximumPinnedClients))
        self.resolutions = ExpiringCache(capacity: maximumPinnedClients * 10)
    }

    private static func makeClient(connectTimeout: Duration, dnsOverride: [String: String]) -> HTTPClient {
        var configuration = HTTPClient.Configuration(redirectConfiguration: .disallow)
        configuration.timeout.connect = .nanoseconds(connectTimeout.saturatingNanoseconds)
        configuration.dnsOverride = dnsOverride
        // No spans: the worker bootstraps no tracer, and with the default (no-op) one each request
        // still built its span's attributes, parsing its URL (1.9 % of a worker's CPU forwarding
        // to 100 servers; 0.1 % without).
        configuration.tracing.tracer = nil
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }

    /// Closes every client. Call once, when done.
    public func shutdown() async throws {
        for client in pinned.withLock({ $0.removeAll() }) { try await client.shutdown() }
        try await shared.shutdown()
    }

    /// The client for a server named in the federation overrides: no address check.
    func overrideClient() -> HTTPClient { shared }

    /// The client for a request to `server` whose URL names `host`, connecting to `connectHost`
    /// (an SRV target) or else `host`, after checking the address it will connect to.
    func checkedClient(server: String, host: String, connectHost: String? = nil) async throws(FederationRequestError) -> HTTPClient {
        let target = connectHost ?? host
        if let literal = IPAddress(target) {
            try check(literal, server: server)
            return connectHost == nil ? shared : pinnedClient(host: host, address: literal)
        }
        if let remembered = resolutions.value(for: target) { return pinnedClient(host: host, address: remembered) }
        let addresses = await resolver.resolve(target)
        guard !addresses.isEmpty else { throw .unreachable(server: server, reason: "no address found for \(target)") }
        guard let permitted = addresses.first(where: { policy.refusal(for: $0) == nil }) else {
            let refused = addresses[0]
            throw .forbiddenAddress(
                server: server, address: refused.description, range: policy.refusal(for: refused) ?? "restricted")
        }
        resolutions.set(permitted, for: target, lifetime: Self.resolutionLifetime)
        return pinnedClient(host: host, address: permitted)
    }

    /// Throws ``FederationRequestError/forbiddenAddress(server:address:range:)`` unless the policy permits `address`.
    func check(_ address: IPAddress, server: String) throws(FederationRequestError) {
        if let range = policy.refusal(for: address) {
            throw .forbiddenAddress(server: server, address: address.description, range: range)
        }
    }

    private func pinnedClient(host: String, address: IPAddress) -> HTTPClient {
        let key = "\(host) \(address)"
        let (client, evicted) = pinned.withLock { clients -> (HTTPClient, HTTPClient?) in
            if let existing = clients.value(for: key) { return (existing, nil) }
            let created = Self.makeClient(connectTimeout: connectTimeout, dnsOverride: [host: address.description])
            return (created, clients.set(created, for: key)?.value)
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
