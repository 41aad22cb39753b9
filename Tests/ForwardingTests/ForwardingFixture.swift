import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import MatrixCore
import MatrixCrypto
import Postgres
import RemoteHomeserver
import Storage
import TestSupport
import Testing

/// The resident server under test and the servers it forwards to: a fresh migrated database, real
/// `leave-worker serve` processes with their senders tuned for short tests, simulated homeservers
/// `a.test`, `b.test`, `c.test` on loopback (each trusts the resident key, so a received
/// transaction's X-Matrix signature is checked) and one more playing `resident.test` itself, to
/// catch a worker sending to its own server.
final class ForwardingFixture: Sendable {
    static let serverName = "resident.test"
    static let remoteNames = ["a.test", "b.test", "c.test"]
    // The fixture's rooms are version 10, whose event IDs are reference hashes of the PDU.
    static let roomVersion = RoomVersion.supported.first { $0.id == "10" } ?? RoomVersion.supported[0]

    let databaseURL: String
    let residentKey: SigningKey
    let keyFile: URL
    /// a.test, b.test, c.test.
    let remotes: [SimulatedHomeserver]
    /// Plays `resident.test`: must never receive anything.
    let ourselves: SimulatedHomeserver
    let pool: PostgresPool
    /// Sender settings for every worker of this fixture (`LEAVE_WORKER_SENDER_*`).
    let senderEnvironment: [String: String]

    init(lease: Duration = .seconds(30)) async throws {
        databaseURL = try TestDatabase.create(prefix: "forwarding")
        residentKey = try SigningKey.generate(version: "rs1")
        keyFile = FileManager.default.temporaryDirectory.appendingPathComponent("forwarding-\(UUID().uuidString).key")
        try PrivateFile.write(residentKey.keyFileLine + "\n", to: keyFile)
        var remotes: [SimulatedHomeserver] = []
        for name in Self.remoteNames {
            remotes.append(SimulatedHomeserver(serverName: name, signingKey: try SigningKey.generate(version: "k1")))
        }
        ourselves = SimulatedHomeserver(serverName: Self.serverName, signingKey: residentKey)
        for server in remotes + [ourselves] {
            server.trust(server: Self.serverName, keyID: residentKey.keyID, publicKey: residentKey.publicKey)
            try await server.start()
        }
        self.remotes = remotes
        let leaseMilliseconds = lease.components.seconds * 1_000
        senderEnvironment = [
            "LEAVE_WORKER_SENDER_LEASE_MS": "\(leaseMilliseconds)",
            "LEAVE_WORKER_SENDER_TIMEOUT_MS": "\(leaseMilliseconds / 2)",
            "LEAVE_WORKER_SENDER_POLL_MS": "200",
            "LEAVE_WORKER_SENDER_BACKOFF_BASE_MS": "250",
            "LEAVE_WORKER_SENDER_BACKOFF_MAX_MS": "1000",
        ]
        pool = PostgresPool(configuration: PostgresConfiguration(url: databaseURL, poolSize: 2))
        let migrated = try await WorkerProcess.runWithoutBlocking(["migrate"], environment: environment)
        guard migrated.status == 0 else { throw WorkerProcessError(description: "migrate failed: \(migrated.stderr)") }
    }

    var a: SimulatedHomeserver { remotes[0] }
    var b: SimulatedHomeserver { remotes[1] }
    var c: SimulatedHomeserver { remotes[2] }

    var environment: [String: String] {
        let overrides = (remotes + [ourselves]).compactMap { server in server.baseURL.map { (server.serverName, $0) } }
        return WorkerEnvironment.make(serverName: Self.serverName, keyFile: keyFile, databaseURL: databaseURL, overrides: overrides)
            .merging(senderEnvironment) { _, sender in sender }
    }

    /// Imports a room (version 10 unless told) where `leavers` (users of a.test) and one member each
    /// of b.test and c.test are joined, next to the resident admin.
    func importRoom(leavers: [String], label: String = "forwarding", version: RoomVersion = ForwardingFixture.roomVersion)
        async throws -> BuiltRoom
    {
        let members = (leavers + ["@bob:b.test", "@carol:c.test"]).map { PlannedMember(userID: $0, membership: .join) }
        let room = try RoomBuilder(
            version: version, resident: EventSigner(serverName: Self.serverName, key: residentKey),
            remotes: remotes.map(\.eventSigner), members: members, roomLocalpart: label
        ).build()
        let result = try await WorkerProcess.runWithoutBlocking(["rooms", "import", "-"], environment: environment,
                                                                stdin: Data(room.importBytes()))
        guard result.status == 0 else { throw WorkerProcessError(description: "import failed: \(result.stderr)") }
        return room
    }

    func startWorker(_ extra: [String: String] = [:]) async throws -> WorkerProcess {
        try await WorkerProcess(environment: environment.merging(extra) { _, new in new })
    }

    /// The worker's `/metrics` text.
    func metrics(of worker: WorkerProcess) async throws -> String {
        let url = try #require(URL(string: worker.baseURL + "/metrics"))
        let (body, _) = try await URLSession.shared.data(from: url)
        return String(decoding: body, as: UTF8.self)
    }

    /// a.test's user leaves through `worker` (make_leave, sign, send_leave v2); returns the event ID.
    func leave(_ userID: String, room: BuiltRoom, through worker: WorkerProcess) async throws -> String {
        let requester = a.requester(destination: Self.serverName, baseURL: worker.baseURL)
        let template = try await requester.makeLeave(roomID: room.roomID, userID: userID)
        guard template.status == 200, let body = template.json else {
            throw WorkerProcessError(description: "make_leave \(template.status): \(String(decoding: template.body, as: UTF8.self))")
        }
        let leave = try a.eventSigner.signLeave(makeLeaveResponse: body, roomID: room.roomID, userID: userID)
        let sent = try await requester.sendLeave(roomID: room.roomID, eventID: leave.eventID, pdu: leave.pdu)
        guard sent.status == 200 else {
            throw WorkerProcessError(description: "send_leave \(sent.status): \(String(decoding: sent.body, as: UTF8.self))")
        }
        return leave.eventID
    }

    /// Deliveries not yet made, over every destination (`ForwardingStore.backlog`).
    func backlog() async throws -> Int {
        try await ForwardingStore(pool: pool, serverName: Self.serverName).backlog().events
    }

    /// How many rows of `events` hold `eventID`.
    func storedEventCount(_ eventID: String) async throws -> Int64 {
        try await pool.withConnection { connection in
            try connection.query("SELECT count(*) FROM events WHERE event_id = $1", [.text(eventID)]).rows.first?.int64(0) ?? -1
        }
    }

    /// A destination's lease end (nil: not leased now) and last successful send, in ms on the
    /// database's clock.
    func leaseAndSuccess(_ destination: String) async throws -> (leasedUntil: Int64?, lastSuccess: Int64?) {
        try await pool.withConnection { connection in
            let result = try connection.query("""
                SELECT CASE WHEN lease_until > now() THEN (extract(epoch FROM lease_until) * 1000)::bigint END,
                       (extract(epoch FROM last_success_at) * 1000)::bigint
                FROM destinations WHERE destination = $1
                """, [.text(destination)])
            return (result.rows.first?.int64(0), result.rows.first?.int64(1))
        }
    }

    /// A destination's back-off row: consecutive failures and whether it is backed off now.
    func backoff(_ destination: String) async throws -> (failures: Int64, backedOff: Bool)? {
        try await pool.withConnection { connection in
            let result = try connection.query(
                "SELECT failures, retry_at IS NOT NULL AND retry_at > now() FROM destinations WHERE destination = $1",
                [.text(destination)])
            return result.rows.first.map { ($0.int64(0) ?? -1, $0.bool(1) ?? false) }
        }
    }

    func shutdown() async {
        for server in remotes + [ourselves] { await server.stop() }
        await pool.close()
        try? FileManager.default.removeItem(at: keyFile)
        try? TestDatabase.drop(databaseURL)
    }
}

extension SimulatedHomeserver {
    /// How many times each event ID (room version 10) arrived, over every transaction received.
    var receivedEventCounts: [String: Int] { receivedEventCounts(version: ForwardingFixture.roomVersion) }

    /// How many times each event ID of a room of `version` arrived, over every transaction received.
    func receivedEventCounts(version: RoomVersion) -> [String: Int] {
        var counts: [String: Int] = [:]
        for transaction in receivedTransactions {
            for pdu in transaction.pdus {
                let eventID = (try? EventHashing.eventID(of: pdu, version: version)) ?? "unhashable"
                counts[eventID, default: 0] += 1
            }
        }
        return counts
    }
}

/// Polls `condition` every 10 ms until it holds; returns the time it took, or nil after `timeout`.
func waitUntil(timeout: Duration, _ condition: () async throws -> Bool) async rethrows -> Duration? {
    let clock = ContinuousClock()
    let start = clock.now
    while clock.now - start < timeout {
        if try await condition() { return clock.now - start }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return nil
}
