import Foundation
import MatrixCore
import MatrixCrypto
import Postgres
import RemoteHomeserver
import TestSupport

/// One resident homeserver under test: a fresh database (migrated by `leave-worker migrate`),
/// a signing key, simulated remote homeservers on loopback (their key servers), and any number
/// of real `leave-worker serve` processes sharing the database.
final class ResidentFixture: Sendable {
    static let serverName = "resident.test"

    let databaseURL: String
    let residentKey: SigningKey
    let keyFile: URL
    let remotes: [SimulatedHomeserver]
    let pool: PostgresPool

    /// Creates the database, migrates it and starts one simulated server per name.
    init(remoteNames: [String] = ["remote.test"]) async throws {
        databaseURL = try TestDatabase.create(prefix: "worker")
        residentKey = try SigningKey.generate(version: "rs1")
        keyFile = FileManager.default.temporaryDirectory.appendingPathComponent("resident-\(UUID().uuidString).key")
        try PrivateFile.write(residentKey.keyFileLine + "\n", to: keyFile)
        var remotes: [SimulatedHomeserver] = []
        for name in remoteNames {
            let server = SimulatedHomeserver(serverName: name, signingKey: try SigningKey.generate(version: "k1"))
            _ = try await server.start()
            remotes.append(server)
        }
        self.remotes = remotes
        pool = PostgresPool(configuration: PostgresConfiguration(url: databaseURL, poolSize: 2))
        let migrated = try await WorkerProcess.runWithoutBlocking(["migrate"], environment: environment)
        guard migrated.status == 0 else { throw WorkerProcessError(description: "migrate failed: \(migrated.stderr)") }
    }

    var remote: SimulatedHomeserver { remotes[0] }
    var resident: EventSigner { EventSigner(serverName: Self.serverName, key: residentKey) }

    /// The environment every `leave-worker` command of this fixture runs with.
    var environment: [String: String] {
        let overrides = remotes.compactMap { server in server.baseURL.map { "\(server.serverName)=\($0)" } }
        return [
            "LEAVE_WORKER_SERVER_NAME": Self.serverName,
            "LEAVE_WORKER_SIGNING_KEY": keyFile.path,
            "LEAVE_WORKER_DATABASE_URL": databaseURL,
            "LEAVE_WORKER_SQL_DIR": WorkerProcess.sqlDirectory,
            "LEAVE_WORKER_FEDERATION_OVERRIDES": overrides.joined(separator: ","),
            "LEAVE_WORKER_LOG_LEVEL": "warning",
            "LEAVE_WORKER_DB_POOL_SIZE": "4",
            // Generous: two CI cores run the whole suite, and a fetch that times out is remembered for 30 s.
            "LEAVE_WORKER_KEY_FETCH_TIMEOUT_SECONDS": "20",
        ]
    }

    /// The settings of a worker after a key rotation: `newKey` in a key file of its own
    /// (`LEAVE_WORKER_SIGNING_KEY`) and this fixture's key retired at `expiredTS` in an old-keys
    /// file (`LEAVE_WORKER_OLD_SIGNING_KEYS`); `files` are the caller's to remove.
    func rotation(to newKey: SigningKey, retiredAt expiredTS: Int64) throws -> (settings: [String: String], files: [URL]) {
        let directory = FileManager.default.temporaryDirectory
        let keyFile = directory.appendingPathComponent("rotated-\(UUID().uuidString).key")
        let oldKeysFile = directory.appendingPathComponent("rotated-\(UUID().uuidString).old")
        try PrivateFile.write(newKey.keyFileLine + "\n", to: keyFile)
        try PrivateFile.write("ed25519 \(residentKey.version) \(expiredTS) \(residentKey.publicKeyBase64)\n", to: oldKeysFile)
        return (["LEAVE_WORKER_SIGNING_KEY": keyFile.path, "LEAVE_WORKER_OLD_SIGNING_KEYS": oldKeysFile.path], [keyFile, oldKeysFile])
    }

    /// Builds a room of `version` whose members live on the first remote server.
    func buildRoom(version: String, members: [PlannedMember], serverACL: JSONObject? = nil, label: String = "room")
        throws -> BuiltRoom
    {
        guard let roomVersion = RoomVersion(version) else { throw WorkerProcessError(description: "no version \(version)") }
        let stamp = 1_700_000_000_000 + Int64(abs(label.hashValue % 1_000_000)) * 1000
        return try RoomBuilder(
            version: roomVersion, resident: resident, remotes: remotes.map(\.eventSigner), members: members,
            roomLocalpart: "\(label)-v\(version)", serverACL: serverACL, firstTimestamp: stamp
        ).build()
    }

    /// Imports a room with `leave-worker rooms import -`; returns the command's JSON summary.
    @discardableResult
    func importRoom(_ room: BuiltRoom) async throws -> JSONValue {
        let result = try await WorkerProcess.runWithoutBlocking(["rooms", "import", "-"], environment: environment, stdin: Data(room.importBytes()))
        guard result.status == 0 else { throw WorkerProcessError(description: "import failed: \(result.stderr)") }
        return try JSONParser.parse(result.stdout)
    }

    /// `leave-worker rooms members ROOM_ID` as user ID → membership.
    func members(_ roomID: String) async throws -> [String: String] {
        let result = try await WorkerProcess.runWithoutBlocking(["rooms", "members", roomID], environment: environment)
        guard result.status == 0 else { throw WorkerProcessError(description: "members failed: \(result.stderr)") }
        var members: [String: String] = [:]
        for entry in try JSONParser.parse(result.stdout).arrayValue ?? [] {
            if let user = entry["user_id"]?.stringValue, let membership = entry["membership"]?.stringValue {
                members[user] = membership
            }
        }
        return members
    }

    /// The stored PDU of `eventID`, parsed; nil if not stored.
    func storedPDU(_ eventID: String) async throws -> JSONValue? {
        let bytes = try await pool.withConnection { connection in
            try connection.query("SELECT pdu FROM events WHERE event_id = $1", [.text(eventID)]).rows.first?.bytes(0)
        }
        return try bytes.map { try JSONParser.parse($0) }
    }

    /// Rows in every table a leave writes, for "nothing was written" checks.
    func writtenRows(_ roomID: String) async throws -> [Int64] {
        try await pool.withConnection { connection in
            let result = try connection.query("""
                SELECT (SELECT count(*) FROM events WHERE room_id = $1),
                       (SELECT count(*) FROM memberships WHERE room_id = $1 AND membership = 'leave'),
                       (SELECT count(*) FROM forward_extremities WHERE room_id = $1),
                       (SELECT coalesce(sum(joined_members), 0) FROM room_joined_servers WHERE room_id = $1)
                """, [.text(roomID)])
            return (0..<4).map { result.rows[0].int64($0) ?? -1 }
        }
    }

    /// Starts a worker process serving this fixture's database.
    func startWorker() async throws -> WorkerProcess {
        try await WorkerProcess(environment: environment)
    }

    /// A requester speaking for the remote server `index` to `worker`.
    func requester(_ worker: WorkerProcess, remote index: Int = 0) -> FederationRequester {
        remotes[index].requester(destination: Self.serverName, baseURL: worker.baseURL)
    }

    func shutdown() async {
        for server in remotes { await server.stop() }
        await pool.close()
    }

    /// The key file goes with the fixture, also when a test ends early by throwing.
    deinit {
        try? FileManager.default.removeItem(at: keyFile)
    }
}
