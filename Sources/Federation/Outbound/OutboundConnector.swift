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
/// resolved for every request); the pinned clients are kept in a bounded LRU map, and an evicted
/// one is closed as soon as no request runs on it — the clients open (each with its connections)
/// are the map's and those finishing a request, whatever the rate of new names.
public final class OutboundConnector: Sendable {
    public let policy: OutboundAddressPolicy
    private let resolver: HostResolver
    private let connectTimeout: Duration
    /// For URLs whose host is an IP literal (checked) or an override (not checked).
    private let shared: HTTPClient
    /// Clients pinning one host name to one checked address, by "host address"; none is made
    /// once ``shutdown()`` has begun (an abandoned send finishing its discovery later would open
    /// one that nothing closes).
    private let pinned: Mutex<(clients: BoundedLRU<String, PinnedClient>, isShutDown: Bool)>
    /// Pinned clients created and not yet closed.
    private let openPinned = PinnedClient.Count()
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
        self.pinned = Mutex((BoundedLRU(capacity: maximumPinnedClients), false))
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

    /// Closes every client (a request still running on one fails). Call once, when done.
    public func shutdown() async throws {
        let open = pinned.withLock { pinned in
            pinned.isShutDown = true
            return pinned.clients.removeAll()
        }
        for entry in open { await entry.close() }
        try await shared.shutdown()
    }

    /// Pinned clients not closed yet: those of the map and those evicted while a request ran on them.
    var openPinnedClients: Int { openPinned.value }

    /// The client for a server named in the federation overrides: no address check.
    func overrideClient() -> HTTPClient { shared }

    /// Runs `request` on the client for a request to `server` whose URL names `host`, connecting
    /// to `connectHost` (an SRV target) or else `host`, after checking the address it will connect
    /// to. The client stays open until `request` returns, even if evicted meanwhile.
    func withCheckedClient<T>(
        server: String, host: String, connectHost: String? = nil, _ request: (HTTPClient) async throws -> T
    ) async throws -> T {
        let (client, pin) = try await checkedClient(server: server, host: host, connectHost: connectHost)
        defer { pin?.release() }
        return try await request(client)
    }

    /// The client, and its pin when it is a pinned one (acquired: the caller releases it).
    private func checkedClient(server: String, host: String, connectHost: String?) async throws(FederationRequestError)
        -> (HTTPClient, PinnedClient?)
    {
        let target = connectHost ?? host
        if let literal = IPAddress(target) {
            try check(literal, server: server)
            guard connectHost != nil else { return (shared, nil) }
            let pin = try pinnedClient(server: server, host: host, address: literal)
            return (pin.client, pin)
        }
        if let remembered = resolutions.value(for: target) {
            let pin = try pinnedClient(server: server, host: host, address: remembered)
            return (pin.client, pin)
        }
        let addresses = await resolver.resolve(target)
        guard !addresses.isEmpty else { throw .unreachable(server: server, reason: "no address found for \(target)") }
        guard let permitted = addresses.first(where: { policy.refusal(for: $0) == nil }) else {
            let refused = addresses[0]
            throw .forbiddenAddress(
                server: server, address: refused.description, range: policy.refusal(for: refused) ?? "restricted")
        }
        resolutions.set(permitted, for: target, lifetime: Self.resolutionLifetime)
        let pin = try pinnedClient(server: server, host: host, address: permitted)
        return (pin.client, pin)
    }

    /// Throws ``FederationRequestError/forbiddenAddress(server:address:range:)`` unless the policy permits `address`.
    func check(_ address: IPAddress, server: String) throws(FederationRequestError) {
        if let range = policy.refusal(for: address) {
            throw .forbiddenAddress(server: server, address: address.description, range: range)
        }
    }

    /// The pinned client for `host` at `address`, acquired — under the map's lock, so an entry
    /// evicted by another request is never handed out.
    private func pinnedClient(server: String, host: String, address: IPAddress) throws(FederationRequestError) -> PinnedClient {
        let key = "\(host) \(address)"
        let (pin, evicted) = pinned.withLock { pinned -> (PinnedClient?, PinnedClient?) in
            guard !pinned.isShutDown else { return (nil, nil) }
            if let existing = pinned.clients.value(for: key) {
                existing.acquire()
                return (existing, nil)
            }
            let created = PinnedClient(
                Self.makeClient(connectTimeout: connectTimeout, dnsOverride: [host: address.description]), open: openPinned)
            created.acquire()
            return (created, pinned.clients.set(created, for: key)?.value)
        }
        evicted?.evict()
        guard let pin else { throw .unreachable(server: server, reason: "the worker is shutting down") }
        return pin
    }
}

/// A pinned client and the requests running on it: evicted from the map, it closes when the last
/// of them ends (at once if none runs).
private final class PinnedClient: Sendable {
    /// How many pinned clients are open.
    final class Count: Sendable {
        private let count = Atomic<Int>(0)
        var value: Int { count.load(ordering: .relaxed) }
        func add(_ delta: Int) { count.add(delta, ordering: .relaxed) }
    }

    let client: HTTPClient
    private let open: Count
    private let state = Mutex((users: 0, evicted: false, closed: false))

    init(_ client: HTTPClient, open: Count) {
        self.client = client
        self.open = open
        open.add(1)
    }

    /// A request starts on the client (under the connector's map lock, while the client is in the map).
    func acquire() {
        state.withLock { $0.users += 1 }
    }

    /// A request on the client ended.
    func release() {
        closeIf { state in
            state.users -= 1
            return state.evicted && state.users == 0
        }
    }

    /// The connector's map let go of the client.
    func evict() {
        closeIf { state in
            state.evicted = true
            return state.users == 0
        }
    }

    /// Closes the client now, whatever runs on it (the connector's shutdown).
    func close() async {
        guard state.withLock({ state in defer { state.closed = true }; return !state.closed }) else { return }
        try? await client.shutdown()
        open.add(-1)
    }

    private func closeIf(_ update: (inout (users: Int, evicted: Bool, closed: Bool)) -> Bool) {
        guard state.withLock({ state in update(&state) && !state.closed }) else { return }
        Task { await close() }
    }
}
