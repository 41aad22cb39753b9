import Federation
import MatrixCrypto
import RemoteHomeserver

/// The remote homeservers the load generator plays: every federation override pointing at a
/// loopback `http://` address (other than the resident server itself) becomes a
/// ``SimulatedHomeserver`` listening on that port — the workers reach it through the same overrides.
struct PlayedServers: Sendable {
    let servers: [SimulatedHomeserver]

    /// Key version of the played servers' keys.
    static let keyVersion = "loadgen"

    /// The servers named by `overrides`, not yet started. Each authenticates transactions signed
    /// with `resident`'s key (``ReceivedTransaction/isAuthenticated``).
    init(overrides: FederationOverrides, resident: EventSigner) throws {
        var servers: [SimulatedHomeserver] = []
        for name in overrides.destinations.keys.sorted() where name != resident.serverName {
            guard let destination = overrides.destinations[name], destination.scheme == .http,
                  destination.pathPrefix.isEmpty, TargetPolicy.isLoopback(destination.host)
            else { continue }
            let server = SimulatedHomeserver(serverName: name, signingKey: try Self.key(for: name))
            server.recordsTransactions = false
            server.trust(server: resident.serverName, keyID: resident.key.keyID, publicKey: resident.key.publicKey)
            servers.append(server)
        }
        guard !servers.isEmpty else { throw LoadGenError.noRemoteServers }
        self.servers = servers
        self.ports = Dictionary(uniqueKeysWithValues: servers.map { server in
            (server.serverName, overrides.destinations[server.serverName]?.port ?? 0)
        })
    }

    private let ports: [String: Int]

    /// A played server's key: derived from its name, so that every run (and every worker's key
    /// cache) sees the same key for it. These are test identities for loopback load runs only.
    static func key(for serverName: String) throws -> SigningKey {
        try SigningKey(version: keyVersion, seed: SHA256.hash(Array("leave-worker loadgen \(serverName)".utf8)))
    }

    func start() async throws {
        for server in servers {
            try await server.start(port: ports[server.serverName] ?? 0)
        }
    }

    func stop() async {
        for server in servers { await server.stop() }
    }

    /// Transactions received so far by all played servers.
    var transactionCount: Int { servers.reduce(0) { $0 + $1.transactionCount } }
}
