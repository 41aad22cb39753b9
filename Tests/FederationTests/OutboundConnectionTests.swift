import AsyncHTTPClient
@testable import Federation
import MatrixCore
import MatrixCrypto
import Testing
import TestSupport

/// Outbound federation never connects to restricted addresses unless allowed: IP literals, host
/// names resolving there (resolution injected: there is no DNS here) and SRV targets. A real
/// listener on the loopback port counts accepted connections and must see none.
@Suite(.serialized) struct OutboundConnectionTests {
    /// A transport without overrides whose resolver answers from `names`.
    static func transport(allowing networks: String = "", names: [String: [String]] = [:], overrides: String = "") throws -> FederationTransport {
        let resolver = HostResolver { host in (names[host] ?? []).compactMap(IPAddress.init) }
        let connector = OutboundConnector(
            policy: try OutboundAddressPolicy.parse(networks).get(), resolver: resolver, connectTimeout: .milliseconds(500))
        return FederationTransport(destinations: FederationDestinations(
            overrides: try FederationOverrides.parse(overrides), connector: connector))
    }

    /// Sends a key request to `server`; returns the error.
    static func failure(of transport: FederationTransport, to server: String) async -> FederationRequestError? {
        do {
            _ = try await transport.send(method: "GET", to: server, target: "/_matrix/key/v2/server", timeout: .seconds(3))
            return nil
        } catch {
            return error
        }
    }

    /// Waits up to two seconds for the listener to have accepted something.
    static func connections(of listener: CountingListener) async -> Int {
        for _ in 0..<40 where listener.acceptedConnections == 0 { try? await Task.sleep(for: .milliseconds(50)) }
        return listener.acceptedConnections
    }

    @Test(arguments: ["127.0.0.1", "::1"]) func loopbackLiteralsAreRefusedWithoutConnecting(_ host: String) async throws {
        let listener: CountingListener
        do { listener = try CountingListener(host: host) } catch { return }   // no IPv6 loopback on this machine
        defer { listener.stop() }
        let transport = try Self.transport()
        defer { Task { try? await transport.destinations.shutdown() } }
        let error = await Self.failure(of: transport, to: listener.serverName)
        guard case .forbiddenAddress(let server, _, let range) = error else {
            Issue.record("expected forbiddenAddress, got \(String(describing: error))")
            return
        }
        #expect(server == listener.serverName && range.contains("loopback"))
        try await Task.sleep(for: .milliseconds(200))
        #expect(listener.acceptedConnections == 0)

        // The same listener, allowed by the operator: now it is reached (so the count above means something).
        let allowed = try Self.transport(allowing: host.contains(":") ? "::1/128" : "127.0.0.0/8")
        _ = await Self.failure(of: allowed, to: listener.serverName)   // plain TCP, not TLS: fails after connecting
        #expect(await Self.connections(of: listener) >= 1)
        try await allowed.destinations.shutdown()
    }

    @Test(arguments: ["10.0.0.1", "169.254.169.254", "[fe80::1]:8448", "0.0.0.0:8448", "[::ffff:127.0.0.1]:8448", "100.64.0.1"])
    func restrictedLiteralsAreRefused(_ server: String) async throws {
        let transport = try Self.transport()
        let error = await Self.failure(of: transport, to: server)
        guard case .forbiddenAddress = error else {
            Issue.record("\(server): expected forbiddenAddress, got \(String(describing: error))")
            return
        }
        try await transport.destinations.shutdown()
    }

    @Test func namesResolvingToRestrictedAddressesAreRefusedAndAllowedOnesPinned() async throws {
        let listener = try CountingListener()
        defer { listener.stop() }
        let names = ["evil.test": ["127.0.0.1"], "mixed.test": ["10.1.1.1", "127.0.0.1"], "pinned.test": ["127.0.0.1"]]
        let transport = try Self.transport(names: names)
        for name in ["evil.test", "mixed.test"] {
            let error = await Self.failure(of: transport, to: "\(name):\(listener.port)")
            guard case .forbiddenAddress(_, let address, _) = error else {
                Issue.record("\(name): expected forbiddenAddress, got \(String(describing: error))")
                continue
            }
            #expect(address == (name == "evil.test" ? "127.0.0.1" : "10.1.1.1"))
        }
        guard case .unreachable = await Self.failure(of: transport, to: "nowhere.test:\(listener.port)") else {
            Issue.record("a name without addresses is unreachable")
            return
        }
        try await Task.sleep(for: .milliseconds(200))
        #expect(listener.acceptedConnections == 0)
        try await transport.destinations.shutdown()

        // Allowed: the connection goes to the resolved, checked address (pinned.test exists in no DNS).
        let allowed = try Self.transport(allowing: "127.0.0.0/8", names: names)
        _ = await Self.failure(of: allowed, to: "pinned.test:\(listener.port)")
        #expect(await Self.connections(of: listener) >= 1)
        try await allowed.destinations.shutdown()
    }

    @Test func theSystemResolverAnswersFromTheHostsFile() async throws {
        let resolver = HostResolver.system(timeout: .seconds(2))
        let local = await resolver.resolve("localhost")
        #expect(local.contains { $0 == IPAddress("127.0.0.1") || $0 == IPAddress("::1") }, "\(local)")
        #expect(await resolver.resolve("no-such-host.invalid").isEmpty)
    }

    @Test func srvTargetsAreCheckedLikeAnyHost() async throws {
        let connector = OutboundConnector(resolver: HostResolver { host in
            host == "target.test" ? [IPAddress("169.254.169.254")!] : [IPAddress("8.8.4.4")!]
        })
        do {
            try await connector.withCheckedClient(server: "srv.test", host: "srv.test", connectHost: "target.test") { _ in }
            Issue.record("an SRV target in the link-local range must be refused")
        } catch {
            guard case .forbiddenAddress(_, "169.254.169.254", _)? = error as? FederationRequestError else {
                Issue.record("unexpected \(error)")
                return
            }
        }
        do {
            try await connector.withCheckedClient(server: "srv.test", host: "srv.test", connectHost: "10.9.9.9") { _ in }
            Issue.record("an SRV target that is a private literal must be refused")
        } catch {
            guard case .forbiddenAddress? = error as? FederationRequestError else { Issue.record("unexpected \(error)"); return }
        }
        try await connector.withCheckedClient(server: "ok.test", host: "ok.test") { _ in }   // public: a client
        try await connector.shutdown()
    }

    /// Pinned clients (each with its connection pool) are bounded by the map, not by the rate of new
    /// names: an evicted client closes once no request runs on it — and not before, so a request
    /// that outlives its client's eviction still ends well. (Evicted clients used to live for a
    /// minute: 40 names, 40 clients and their idle connections.)
    @Test func evictedPinnedClientsCloseOnceTheirRequestsEnd() async throws {
        let fast = try await FakeHomeserver(keys: .document([:]))
        let slow = try await FakeHomeserver(keys: .slow([:], delay: .seconds(2)))
        let connector = OutboundConnector(
            policy: OutboundAddressPolicy(allowedNetworks: [try #require(IPNetwork("127.0.0.0/8"))]),
            resolver: HostResolver { _ in [IPAddress("127.0.0.1")!] }, maximumPinnedClients: 4)
        func status(_ host: String, _ server: FakeHomeserver) async throws -> UInt {
            try await connector.withCheckedClient(server: host, host: host) { client in
                try await client.execute(HTTPClientRequest(url: "http://\(host):\(server.port)/_matrix/key/v2/server"),
                                         timeout: .seconds(10)).status.code
            }
        }
        async let slowAnswer = status("slow.test", slow)
        for _ in 0..<200 where slow.keyRequests == 0 { try await Task.sleep(for: .milliseconds(10)) }
        try #require(slow.keyRequests == 1)
        for index in 0..<40 { #expect(try await status("h\(index).test", fast) == 200) }
        #expect(try await slowAnswer == 200, "the evicted client's request did not end well")
        for _ in 0..<200 where connector.openPinnedClients > 4 { try await Task.sleep(for: .milliseconds(10)) }
        #expect(connector.openPinnedClients == 4)
        try await connector.shutdown()
        #expect(connector.openPinnedClients == 0)
        // A request that reaches the connector after its shutdown (an abandoned send ending its
        // discovery) opens no client that nothing would close.
        await #expect(throws: FederationRequestError.self) { try await status("late.test", fast) }
        #expect(connector.openPinnedClients == 0)
        await fast.stop()
        await slow.stop()
    }

    @Test func keyFetchesForRestrictedOriginsFailGenericallyWhileOverridesStillWork() async throws {
        let listener = try CountingListener()
        defer { listener.stop() }
        try await FederationHarness.with(keys: .document(XMatrixAuthenticatorTests.remoteDocument())) { harness async throws in
            // The harness reaches remote.test through an override on 127.0.0.1: allowed.
            let key = try await harness.fetcher.publicKey(server: "remote.test", keyID: "ed25519:rm1", use: .request(now: nowMS()))
            #expect(key == XMatrixAuthenticatorTests.remoteKey.publicKey)
            for origin in [listener.serverName, "10.0.0.1", "169.254.169.254"] {
                do throws(KeyFetchError) {
                    _ = try await harness.fetcher.publicKey(server: origin, keyID: "ed25519:a", use: .request(now: nowMS()))
                    Issue.record("\(origin) must not be fetched from")
                } catch {
                    guard case .destinationNotAllowed = error else { Issue.record("\(origin): \(error)"); continue }
                    #expect(!error.isUndecided)
                    #expect(error.remoteDescription == "Could not fetch the signing keys of origin \(origin)")
                }
            }
            try await Task.sleep(for: .milliseconds(200))
            #expect(listener.acceptedConnections == 0)
            #expect(try await harness.store.keys(server: listener.serverName).isEmpty)
        }
    }
}
