import Foundation
import MatrixCore
import MatrixCrypto
import Postgres
import RemoteHomeserver
import TestSupport
import Testing

/// Workers behind PgBouncer in transaction mode (`LEAVE_WORKER_DATABASE_URL` through it,
/// `LEAVE_WORKER_DATABASE_DIRECT_URL` to the server): two worker processes, four pooled connections
/// each, multiplexed over two server connections — so nothing may rely on session state (startup
/// `options`, server-side prepared statements). The happy path, forwarding, and both workers racing.
@Suite(.serialized, .enabled(if: PgBouncerProcess.binary != nil,
                             "pgbouncer is not installed (apt-get install pgbouncer, or scripts/deps.sh)"))
struct PgBouncerTests {
    @Test func twoWorkersThroughPgBouncerStoreForwardAndRaceLeaves() async throws {
        let fixture = try await ResidentFixture(remoteNames: ["remote.test", "other.test"])
        let bouncer = try await PgBouncerProcess(inFrontOf: fixture.databaseURL)
        defer { bouncer.stop() }
        let database = String(try #require(URLComponents(string: fixture.databaseURL)?.path.dropFirst()))
        var environment = fixture.environment
        environment["LEAVE_WORKER_DATABASE_DIRECT_URL"] = fixture.databaseURL

        // The setup would catch a regression: PgBouncer refuses a session-style connection.
        #expect(throws: PostgresError.self, "startup options through PgBouncer") {
            _ = try PostgresConnection(url: bouncer.url(database: database)).query("SELECT 1")
        }
        // migrate runs on the direct URL (its advisory lock needs one session): the pooled one may lead nowhere.
        environment["LEAVE_WORKER_DATABASE_URL"] = "postgresql://postgres@127.0.0.1:\(WorkerProcess.freePort())/\(database)"
        let migrated = try await WorkerProcess.runWithoutBlocking(["migrate"], environment: environment)
        #expect(migrated.status == 0, "\(migrated.stderr)")
        #expect(migrated.stdout.contains("up to date"))

        environment["LEAVE_WORKER_DATABASE_URL"] = bouncer.url(database: database)
        let first = try await WorkerProcess(environment: environment)
        defer { first.stop() }
        let second = try await WorkerProcess(environment: environment)
        defer { second.stop() }
        let requesters = [fixture.requester(first), fixture.requester(second)]
        let leavers = PlannedMember.generate(count: 20, membership: .join, servers: ["remote.test"], localpartPrefix: "m")
        let watcher = PlannedMember(userID: "@watcher:other.test", membership: .join)
        let room = try fixture.buildRoom(version: "10", members: leavers + [watcher], label: "pgbouncer")
        try await fixture.importRoom(room)
        let signer = fixture.remote.eventSigner

        // Happy path through the first worker; the leave reaches other.test (the sender's LISTEN is direct).
        let alone = leavers[0].userID
        let template = try await requesters[0].makeLeave(roomID: room.roomID, userID: alone)
        #expect(template.status == 200, "\(String(decoding: template.body, as: UTF8.self))")
        let leave = try signer.signLeave(makeLeaveResponse: try #require(template.json), roomID: room.roomID, userID: alone)
        let sent = try await requesters[0].sendLeave(roomID: room.roomID, eventID: leave.eventID, pdu: leave.pdu)
        #expect(sent.status == 200, "\(String(decoding: sent.body, as: UTF8.self))")
        #expect(try await fixture.members(room.roomID)[alone] == "leave")
        let other = fixture.remotes[1]
        let received = try await Self.waitUntil(timeout: .seconds(10)) { Self.received(leave.eventID, by: other) > 0 }
        #expect(received, "other.test did not receive the leave through the worker's sender")

        // The same leave raced on both workers, then the others leave across both: all 200, all stored.
        let racer = leavers[1].userID
        let raceTemplate = try await requesters[1].makeLeave(roomID: room.roomID, userID: racer)
        let raced = try signer.signLeave(makeLeaveResponse: try #require(raceTemplate.json), roomID: room.roomID, userID: racer)
        let statuses = try await withThrowingTaskGroup(of: [Int].self) { group in
            for index in 0..<10 {
                group.addTask { [try await requesters[index % 2].sendLeave(roomID: room.roomID, eventID: raced.eventID, pdu: raced.pdu).status] }
            }
            for (index, member) in leavers.dropFirst(2).enumerated() {
                let requester = requesters[index % 2]
                group.addTask {
                    let made = try await requester.makeLeave(roomID: room.roomID, userID: member.userID)
                    guard made.status == 200, let body = made.json else { return [made.status] }
                    let event = try signer.signLeave(makeLeaveResponse: body, roomID: room.roomID, userID: member.userID)
                    return [made.status, try await requester.sendLeave(roomID: room.roomID, eventID: event.eventID, pdu: event.pdu).status]
                }
            }
            return try await group.reduce(into: []) { $0.append(contentsOf: $1) }
        }
        #expect(statuses.allSatisfy { $0 == 200 }, "\(statuses.filter { $0 != 200 })")
        let members = try await fixture.members(room.roomID)
        for member in leavers { #expect(members[member.userID] == "leave", "\(member.userID)") }
        let stored = try await fixture.pool.withConnection { connection in
            try connection.query("SELECT count(*) FROM events WHERE room_id = $1 AND event_id = $2",
                                 [.text(room.roomID), .text(raced.eventID)])[0].int64(0)
        }
        #expect(stored == 1, "the raced leave is stored once")
        let allForwarded = try await Self.waitUntil(timeout: .seconds(10)) { Self.received(raced.eventID, by: other) > 0 }
        #expect(allForwarded)
        #expect(Self.received(raced.eventID, by: other) == 1, "forwarded once")
        await fixture.shutdown()
    }

    /// How many times `eventID` (room version 10) reached `server`.
    private static func received(_ eventID: String, by server: SimulatedHomeserver) -> Int {
        guard let version = RoomVersion("10") else { return 0 }
        return server.receivedTransactions.flatMap(\.pdus).count { pdu in
            (try? EventHashing.eventID(of: pdu, version: version)).map { $0.utf8.elementsEqual(eventID.utf8) } ?? false
        }
    }

    private static func waitUntil(timeout: Duration, _ condition: () -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if condition() { return true }
            try await Task.sleep(for: .milliseconds(20))
        }
        return condition()
    }
}

/// `/ready`'s probe behind PgBouncer in transaction mode: its `SELECT 1` went through the pooler
/// and waited in PgBouncer's queue behind the workers' own statements, so a busy (not down)
/// database past the probe's timeout made every worker unready at once.
@Suite(.enabled(if: PgBouncerProcess.binary != nil, "pgbouncer is not installed (apt-get install pgbouncer, or scripts/deps.sh)"))
struct PgBouncerProbeTests {
    @Test func probeAnswersWhilePgBouncersServerConnectionIsBusy() async throws {
        let direct = try TestDatabase.create(prefix: "probe")
        defer { try? TestDatabase.drop(direct) }
        let bouncer = try await PgBouncerProcess(inFrontOf: direct, serverConnections: 1)
        defer { bouncer.stop() }
        let database = String(try #require(URLComponents(string: direct)?.path.dropFirst()))
        var configuration = PostgresConfiguration(url: bouncer.url(database: database), poolSize: 1)
        configuration.directURL = direct
        configuration.isTransactionPooled = true
        let pool = PostgresPool(configuration: configuration)
        let holder = Task {
            try await pool.withConnection { try $0.query("SELECT pg_sleep(4)").rowCount }
        }
        // PgBouncer's one server connection runs the sleep before the probe starts.
        let watcher = try PostgresConnection(url: direct)
        while try watcher.query("SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(4)' AND state = 'active'")[0].int64(0) == 0 {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(await pool.isHealthy(timeout: .milliseconds(500)), "the probe waited behind the pooled sleep")
        #expect(try await holder.value == 1)
        await pool.close()
    }
}
