import AsyncHTTPClient
import Logging
import MatrixCore
import NIOCore

/// Where to reach a server: `LEAVE_WORKER_FEDERATION_OVERRIDES` first, else the spec's server
/// discovery (IP literal or explicit port → direct; `/.well-known/matrix/server`; SRV
/// `_matrix-fed._tcp` then `_matrix._tcp`; port 8448), always over HTTPS with the certificate
/// checked against the system's trust roots. Results are cached (see ``WellKnownDelegation``).
///
/// Servers not named in the overrides are reached only at addresses ``OutboundConnector/policy``
/// permits: IP literals are checked here already, host names (of `.well-known`, delegated names,
/// SRV targets) when connecting. `.well-known` redirects are followed by hand, at most
/// ``WellKnownDelegation/maximumRedirects``, HTTPS to HTTPS only, each hop checked the same way.
public final class FederationDestinations: Sendable {
    public let overrides: FederationOverrides
    /// The HTTP clients every outbound request goes through (address policy, pinned resolution).
    public let connector: OutboundConnector
    private let srvResolver: SRVResolver
    private let timeout: Duration
    private let logger: Logger
    /// Final answers per server name; at most an hour, so SRV changes are picked up.
    private let resolved: ExpiringCache<String, FederationDestination>
    /// `.well-known` answers per host name (`nil` delegation = invalid or failed).
    private let wellKnown: ExpiringCache<String, WellKnownAnswer>
    /// Consecutive `.well-known` failures per host name, for the exponential back-off.
    private let wellKnownFailures: ExpiringCache<String, Int>
    private static let resolvedLifetime: Duration = .seconds(3600)

    private struct WellKnownAnswer: Sendable {
        let delegatedName: ServerName?
        let lifetime: Duration
    }

    /// - Parameters:
    ///   - overrides: fixed base URLs for some servers.
    ///   - timeout: bound on one `.well-known` request (all its redirects included).
    ///   - srvResolver: SRV look-ups (the system resolver's by default).
    ///   - connector: the clients and the address policy for everything not overridden.
    ///   - cacheCapacity: how many server and host names each discovery cache holds (LRU).
    public init(
        overrides: FederationOverrides, timeout: Duration = .seconds(5),
        srvResolver: SRVResolver = .system(), connector: OutboundConnector = OutboundConnector(),
        cacheCapacity: Int = 10_000, logger: Logger = Logger(label: "leave-worker.federation")
    ) {
        self.overrides = overrides
        self.connector = connector
        self.resolved = ExpiringCache(capacity: cacheCapacity)
        self.wellKnown = ExpiringCache(capacity: cacheCapacity)
        self.wellKnownFailures = ExpiringCache(capacity: cacheCapacity)
        self.timeout = timeout
        self.srvResolver = srvResolver
        self.logger = logger
    }

    /// Closes every outbound client (``connector``). Call once, when done.
    public func shutdown() async throws {
        try await connector.shutdown()
    }

    /// Where to send requests for `serverName`.
    public func destination(for serverName: String) async throws(FederationRequestError) -> FederationDestination {
        if let override = overrides.destinations[serverName] { return override }
        if let cached = resolved.value(for: serverName) { return cached }
        guard let name = ServerName(serverName) else { throw .invalidServerName(serverName) }
        if let direct = ServerDiscovery.directDestination(for: name) { return try checked(direct, server: serverName) }

        // Discovery cut short by its caller (a send's timeout) learns nothing about the server:
        // what it found is not remembered, and it stops.
        guard let answer = await wellKnownAnswer(host: name.host) else { throw .timedOut(server: serverName) }
        let destination: FederationDestination
        if let delegated = answer.delegatedName {
            if let direct = ServerDiscovery.directDestination(for: delegated) {
                destination = try checked(direct, server: serverName)
            } else {
                destination = try await srvDestination(hostname: delegated.host, server: serverName)
            }
        } else {
            destination = try await srvDestination(hostname: name.host, server: serverName)
        }
        guard !Task.isCancelled else { throw .timedOut(server: serverName) }
        logger.debug("server discovery", metadata: ["server": "\(serverName)", "destination": "\(destination)"])
        resolved.set(destination, for: serverName, lifetime: min(answer.lifetime, Self.resolvedLifetime))
        return destination
    }

    /// `destination`, unless its host is an IP literal the address policy refuses.
    private func checked(_ destination: FederationDestination, server: String) throws(FederationRequestError) -> FederationDestination {
        if let literal = IPAddress(destination.host) { try connector.check(literal, server: server) }
        return destination
    }

    /// Steps 3.3–3.5 / 4–6: `_matrix-fed._tcp`, then `_matrix._tcp`, then port 8448 — moving on
    /// only when a name has no SRV records. A look-up that failed (a timeout, a server failure, no
    /// look-up thread free) fails the discovery: nothing is remembered, the next send looks up again.
    private func srvDestination(hostname: String, server: String) async throws(FederationRequestError) -> FederationDestination {
        for srvName in ServerDiscovery.srvNames(for: hostname) {
            switch await srvResolver.lookup(srvName) {
            case .records(let records): return ServerDiscovery.destination(hostname: hostname, srvRecords: records)
            case .none: continue
            case .failed(let reason):
                if Task.isCancelled { throw .timedOut(server: server) }
                throw .unreachable(server: server, reason: "SRV look-up of \(srvName) failed: \(reason)")
            }
        }
        return ServerDiscovery.destination(hostname: hostname, srvRecords: [])
    }

    /// The cached or freshly fetched `.well-known/matrix/server` answer for `host`; nil when the
    /// caller was cancelled before the fetch succeeded (no failure of the host's is then recorded).
    private func wellKnownAnswer(host: String) async -> WellKnownAnswer? {
        if let cached = wellKnown.value(for: host) { return cached }
        let fetched = await fetchWellKnown(host: host)
        if fetched == nil && Task.isCancelled { return nil }
        let answer: WellKnownAnswer
        if let delegated = fetched {
            wellKnownFailures.remove(host)
            answer = WellKnownAnswer(delegatedName: delegated.name, lifetime: delegated.lifetime)
        } else {
            let failures = (wellKnownFailures.value(for: host) ?? 0) + 1
            wellKnownFailures.set(failures, for: host, lifetime: .seconds(2 * 3600))
            answer = WellKnownAnswer(
                delegatedName: nil, lifetime: WellKnownDelegation.failureLifetime(consecutiveFailures: failures))
        }
        wellKnown.set(answer, for: host, lifetime: answer.lifetime)
        return answer
    }

    /// `GET https://<host>/.well-known/matrix/server`; `nil` for any failure or invalid answer.
    /// Redirects: at most ``WellKnownDelegation/maximumRedirects``, each to an `https` URL whose
    /// host the address policy permits (checked like any other connection).
    private func fetchWellKnown(host: String) async -> (name: ServerName, lifetime: Duration)? {
        guard let authority = ServerName(host) else { return nil }
        let connector = self.connector
        let timeout = self.timeout
        do {
            return try await withDeadline(timeout) { () async throws -> (name: ServerName, lifetime: Duration)? in
                var url = WellKnownDelegation.URL(authority: authority, path: WellKnownDelegation.path)
                for _ in 0...WellKnownDelegation.maximumRedirects {
                    let request = HTTPClientRequest(url: url.text)
                    let (status, headers, body) = try await connector.withCheckedClient(server: host, host: url.host) { client in
                        let response = try await client.execute(request, timeout: .nanoseconds(timeout.saturatingNanoseconds))
                        let status = Int(response.status.code)
                        let body = (300..<400).contains(status)
                            ? ByteBuffer() : try await response.body.collect(upTo: WellKnownDelegation.maximumBodyBytes)
                        return (status, response.headers, body)
                    }
                    if (300..<400).contains(status) {
                        guard let next = url.redirect(location: headers.first(name: "location")) else {
                            throw WellKnownDelegation.RedirectRefused(status: status)
                        }
                        url = next
                        continue
                    }
                    guard let name = WellKnownDelegation.delegatedName(status: status, body: Array(buffer: body))
                    else { return nil }
                    return (name, WellKnownDelegation.lifetime(cacheControl: headers.first(name: "cache-control")))
                }
                throw WellKnownDelegation.RedirectRefused(status: nil)
            }
        } catch {
            logger.debug("no .well-known delegation", metadata: ["host": "\(host)", "error": "\(error)"])
            return nil
        }
    }
}
