import Federation
import Foundation
import MatrixCore
import MatrixCrypto
import Postgres
import Storage
import Synchronization
import TestSupport

/// Keys and requests from `Tests/Vectors/x-matrix.json`.
enum XMatrixVectors {
    static let document: JSONValue = {
        do { return try JSONParser.parse(Vectors.bytes("x-matrix")) } catch { fatalError("x-matrix.json: \(error)") }
    }()

    static var requests: [JSONObject] { document["requests"]?.arrayValue?.compactMap(\.objectValue) ?? [] }

    /// The signing key of one of the vector servers (`remote.test`, `resident.test`).
    static func signingKey(of server: String) throws -> SigningKey {
        guard let entry = document["servers"]?[server],
              let keyID = entry["key_id"]?.stringValue,
              let seed = entry["seed_unpadded_base64"]?.stringValue.flatMap(Base64.decode)
        else { throw FixtureError("no vector key for \(server)") }
        return try SigningKey(version: String(keyID.dropFirst("ed25519:".count)), seed: seed)
    }
}

struct FixtureError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Milliseconds since the epoch.
func nowMS() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

/// A key document for `server` signed by `keys`, valid for an hour unless told otherwise.
func keyDocument(server: String, keys: [SigningKey], oldKeys: [OldVerifyKey] = [],
                 validUntil: Int64 = nowMS() + 3_600_000) throws -> JSONObject {
    try ServerKeyDocument.make(serverName: server, keys: keys, oldKeys: oldKeys, validUntil: validUntil)
}

/// A fresh migrated database, a fake remote homeserver reached through the overrides, and the
/// key-fetching stack on top; everything is shut down by ``with(remote:keys:configuration:_:)``.
struct FederationHarness {
    let remote: FakeHomeserver
    let pool: PostgresPool
    let store: ServerKeyStore
    let transport: FederationTransport
    let fetcher: KeyFetcher
    let configuration: KeyFetcher.Configuration

    static let sqlDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("sql")

    /// Overrides pointing `remote.test` (and `extraOverrides`) at loopback servers.
    static func transport(overrides: [String: String]) throws -> FederationTransport {
        let text = overrides.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
        return FederationTransport(destinations: FederationDestinations(
            overrides: try FederationOverrides.parse(text), connector: OutboundConnector(connectTimeout: .milliseconds(500))))
    }

    /// Runs `body` with a harness whose `remoteName` is served by a fake homeserver answering `keys`
    /// (or, with `remoteDown`, by nothing: port 1 on loopback refuses connections).
    static func with<T>(
        remoteName: String = "remote.test", keys: FakeHomeserver.KeyBehaviour, remoteDown: Bool = false,
        configuration: KeyFetcher.Configuration = KeyFetcher.Configuration(), clock: ManualClock? = nil,
        _ body: (FederationHarness) async throws -> T
    ) async throws -> T {
        let remote = try await FakeHomeserver(keys: keys)
        let pool = PostgresPool(configuration: PostgresConfiguration(
            url: try TestDatabase.create(prefix: "federation"), poolSize: 4, acquireTimeout: .seconds(5)))
        let transport: FederationTransport
        do {
            _ = try await Migrator(directory: sqlDirectory).migrate(pool: pool)
            transport = try Self.transport(overrides: [remoteName: remoteDown ? "http://127.0.0.1:1" : remote.baseURL])
        } catch {
            await pool.close()
            await remote.stop()
            throw error
        }
        let store = ServerKeyStore(pool: pool)
        let harness = FederationHarness(
            remote: remote, pool: pool, store: store, transport: transport,
            fetcher: KeyFetcher(store: store, transport: transport, configuration: configuration,
                                monotonicNow: { clock?.now ?? ContinuousClock.now }),
            configuration: configuration)
        let result: Result<T, any Error>
        do { result = .success(try await body(harness)) } catch { result = .failure(error) }
        try? await transport.destinations.shutdown()
        await pool.close()
        await remote.stop()
        return try result.get()
    }

    /// Another "worker": its own memory cache and HTTP clients, the same database.
    func withSecondWorker<T>(_ body: (KeyFetcher) async throws -> T) async throws -> T {
        let transport = try Self.transport(overrides: ["remote.test": remote.baseURL])
        let result: Result<T, any Error>
        do {
            result = .success(try await body(KeyFetcher(store: store, transport: transport, configuration: configuration)))
        } catch {
            result = .failure(error)
        }
        try? await transport.destinations.shutdown()
        return try result.get()
    }
}

/// A monotonic clock that moves only when a test advances it (instead of the test sleeping).
final class ManualClock: Sendable {
    private let instant = Mutex(ContinuousClock.now)

    var now: ContinuousClock.Instant { instant.withLock { $0 } }

    func advance(by duration: Duration) {
        instant.withLock { $0 += duration }
    }
}
