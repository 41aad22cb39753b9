import Foundation
import LoadGen
import MatrixCore
import MatrixCrypto
import Postgres
import Storage
import Synchronization
import TestSupport
import WorkerApp
import XCTest

/// Whole load runs against a worker served in this process on a fresh database: pairs and
/// send-only leaves are accepted and stored, and the storage check counts leaves that were
/// deleted from the database after they were answered 200. `events follow` prints a run's
/// leaves across a Postgres restart.
final class LoadGenRunTests: XCTestCase {
    private var databaseURL = ""
    private var directory: URL!
    private var settings: Settings!
    private var worker: Task<Void, any Error>?
    private var target = ""

    override func setUp() async throws {
        databaseURL = try TestDatabase.create(prefix: "loadgen")
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("loadgen-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let keyFile = directory.appendingPathComponent("signing.key")
        try PrivateFile.write(try SigningKey.generate(version: "w1").keyFileLine + "\n", to: keyFile)
        let overrides = "remote1.test=http://127.0.0.1:\(WorkerProcess.freePort()),"
            + "remote2.test=http://127.0.0.1:\(WorkerProcess.freePort()),"
            + "remote3.test=http://127.0.0.1:\(WorkerProcess.freePort())"
        settings = Settings(environment: [:], overrides: [
            .serverName: "resident.test", .signingKey: keyFile.path, .databaseURL: databaseURL,
            .federationOverrides: overrides, .sqlDirectory: WorkerProcess.sqlDirectory, .listen: "127.0.0.1:0",
            .logLevel: "error", .poolSize: "4",
        ])
        _ = try await Operations.migrate(settings: settings)
        let (ports, listening) = AsyncStream<Int>.makeStream()
        let server = WorkerServer(settings: settings, onListening: { port in
            listening.yield(port)
            listening.finish()
        })
        worker = Task { try await server.run() }
        var iterator = ports.makeAsyncIterator()
        let bound = await iterator.next()
        let port = try XCTUnwrap(bound, "the worker did not start")
        target = "http://127.0.0.1:\(port)"
    }

    override func tearDown() async throws {
        worker?.cancel()
        _ = try? await worker?.value
        try? FileManager.default.removeItem(at: directory)
        try? TestDatabase.drop(databaseURL)
    }

    func testPairsRunStoresEveryAcceptedLeave() async throws {
        let options = LoadGenOptions(target: target, mode: .pairs, rooms: 2, membersPerRoom: 10, roomVersion: "10",
                                     concurrency: 4, duration: .seconds(120), count: 15)
        let report = try await LoadGenerator.run(options: options, settings: settings, log: { _ in })
        XCTAssertEqual(report.failures.map(\.kind), [])
        XCTAssertEqual(report.attempted, 15)
        XCTAssertEqual(report.accepted, 15)
        XCTAssertEqual(report.stopReason, .count)
        XCTAssertEqual(report.lost, 0)
        XCTAssertEqual(report.latencies.map(\.endpoint), [.makeLeave, .sendLeave, .pair])
        XCTAssertEqual(report.latencies.map(\.count), [15, 15, 15])
        XCTAssertGreaterThan(report.throughput, 0)
    }

    func testMakeOnlyRunAsksForTemplatesAndNobodyLeaves() async throws {
        let options = LoadGenOptions(target: target, mode: .makeOnly, rooms: 1, membersPerRoom: 4, roomVersion: "10",
                                     concurrency: 3, duration: .seconds(120), count: 20)
        let report = try await LoadGenerator.run(options: options, settings: settings, log: { _ in })
        XCTAssertEqual(report.failures.map(\.kind), [])
        XCTAssertEqual(report.attempted, 20, "the 4 members are asked for again and again")
        XCTAssertEqual(report.accepted, 20)
        XCTAssertEqual(report.stopReason, .count)
        XCTAssertEqual(report.latencies.map(\.endpoint), [.makeLeave])
        XCTAssertEqual(report.lost, 0)
        let connection = try PostgresConnection(url: databaseURL)
        let leaves = try connection.query("SELECT count(*) FROM memberships WHERE membership = 'leave'")
        XCTAssertEqual(leaves[0].int64(0), 0)
    }

    func testSendOnlyRunAndTheCheckCatchesLostLeaves() async throws {
        let options = LoadGenOptions(target: target, mode: .sendOnly, rooms: 2, membersPerRoom: 6, roomVersion: "12",
                                     concurrency: 3, duration: .seconds(120))
        let databaseURL = self.databaseURL
        let report = try await LoadGenerator.run(options: options, settings: settings, log: { _ in },
                                                 beforeStorageCheck: { accepted in
            try Self.lose(accepted[0], deletingTheEvent: true, databaseURL: databaseURL)
            try Self.lose(accepted[1], deletingTheEvent: false, databaseURL: databaseURL)
        })
        XCTAssertEqual(report.failures.map(\.kind), [])
        XCTAssertEqual(report.accepted, 12)
        XCTAssertEqual(report.stopReason, .membersExhausted)
        XCTAssertEqual(report.latencies.map(\.endpoint), [.sendLeave])
        XCTAssertEqual(report.lost, 2)
        XCTAssertTrue(report.text.contains("lost: 2"))
    }

    /// Forwarding under load (the worker's sender is on): a 60 s send-only run over several rooms
    /// whose members live on 3 played servers; afterwards nothing is left due, and each played
    /// server received every leave due to it (a joined member in the room after the leave, not
    /// its own) exactly once and nothing else, each from the resident server, authenticated. The
    /// drain is waited for before the storage check (nothing is left due when it starts), and the
    /// CPU split is also given over the run and the drain.
    func testASixtySecondRunForwardsEveryLeaveExactlyOnceToEachServer() async throws {
        let options = LoadGenOptions(target: target, mode: .sendOnly, rooms: 4, membersPerRoom: 2_000, roomVersion: "10",
                                     concurrency: 8, duration: .seconds(60), rate: 100, drainTimeout: .seconds(30),
                                     verifyForwarding: true)
        let dueAtTheStorageCheck = Mutex<Int?>(nil)
        let databaseURL = self.databaseURL
        let report = try await LoadGenerator.run(options: options, settings: settings, log: { _ in },
                                                 beforeStorageCheck: { _ in
            let pool = PostgresPool(configuration: PostgresConfiguration(url: databaseURL, poolSize: 1))
            let due = try? await ForwardingStore(pool: pool, serverName: "resident.test").backlog().events
            await pool.close()
            dueAtTheStorageCheck.withLock { $0 = due }
        })
        XCTAssertEqual(dueAtTheStorageCheck.withLock { $0 }, 0)
        XCTAssertEqual(report.failures.map(\.kind), [])
        XCTAssertEqual(report.stopReason, .duration)
        XCTAssertGreaterThan(report.accepted, 1_000)
        XCTAssertEqual(report.lost, 0)
        let forwarding = try XCTUnwrap(report.forwarding)
        XCTAssertNotNil(forwarding.drainSeconds, "still due: \(forwarding.backlogLeft)")
        XCTAssertEqual(forwarding.backlogLeft, 0)
        XCTAssertGreaterThan(forwarding.expected ?? 0, report.accepted, "a leave is due to the other played servers")
        XCTAssertEqual(forwarding.missing, 0)
        XCTAssertEqual(forwarding.duplicated, 0)
        XCTAssertEqual(forwarding.unexpected, 0)
        XCTAssertEqual(forwarding.unauthenticated, 0)
        let drainSeconds = try XCTUnwrap(forwarding.drainSeconds)
        XCTAssertEqual(try XCTUnwrap(report.elapsedWithDrainSeconds), report.elapsedSeconds + drainSeconds, accuracy: 1e-6)
        XCTAssertNotNil(report.cpuSplitWithDrain)
        XCTAssertTrue(report.text.contains("forwarding check: \(forwarding.expected ?? -1) deliveries due, missing 0"), report.text)
    }

    /// `leave-worker events follow` (FeedFollower) on the same database across a Postgres restart
    /// that breaks its read in flight (held on a lock of `events` meanwhile): it goes on and prints
    /// the leaves stored before and after the restart. It exited with the failed read.
    func testEventsFollowGoesOnAcrossAPostgresRestart() async throws {
        let settings = try XCTUnwrap(settings)
        let options = LoadGenOptions(target: target, mode: .pairs, rooms: 1, membersPerRoom: 2, roomVersion: "10",
                                     concurrency: 1, duration: .seconds(120), count: 1)
        let before = try await LoadGenerator.run(options: options, settings: settings, log: { _ in })
        XCTAssertEqual(before.accepted, 1)
        let holder = try PostgresConnection(url: databaseURL)
        try holder.execute(script: "BEGIN; LOCK TABLE events IN ACCESS EXCLUSIVE MODE")
        let printed = Mutex<[String]>([])
        let stopped = Mutex<String?>(nil)
        let follower = Task {
            do {
                try await FeedFollower.follow(settings: settings, from: 0, once: false) { line in
                    let eventID = (try? JSONParser.parse(Array(line.dropLast())))?["event_id"]?.stringValue
                    printed.withLock { $0.append(eventID ?? "?") }
                }
            } catch {
                stopped.withLock { $0 = "\(error)" }
            }
        }
        let watcher = try PostgresConnection(url: databaseURL)
        let feedReadWaits = """
            SELECT count(*) FROM pg_stat_activity
            WHERE wait_event_type = 'Lock' AND query LIKE 'SELECT stream_ordering, room_id, event_id, pdu FROM events%'
            """
        while try watcher.query(feedReadWaits)[0].int64(0) == 0 { try await Task.sleep(for: .milliseconds(20)) }
        try TestDatabase.restartServer()

        let after = try await LoadGenerator.run(options: options, settings: settings, log: { _ in })
        XCTAssertEqual(after.accepted, 1)
        let accepted = try PostgresConnection(url: databaseURL)
            .query("SELECT event_id FROM events WHERE accepted ORDER BY stream_ordering").rows.compactMap { $0.string(0) }
        XCTAssertEqual(accepted.count, 2)
        let deadline = ContinuousClock.now + .seconds(30)
        while printed.withLock({ $0.count }) < accepted.count, stopped.withLock({ $0 }) == nil, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        XCTAssertNil(stopped.withLock { $0 }, "events follow stopped")
        follower.cancel()
        await follower.value
        XCTAssertEqual(printed.withLock { $0 }, accepted)
    }

    /// Undoes a stored leave: the member's membership goes back to their join, and with
    /// `deletingTheEvent` the leave event itself disappears (as if its transaction never committed).
    private static func lose(_ leave: AcceptedLeave, deletingTheEvent: Bool, databaseURL: String) throws {
        let connection = try PostgresConnection(url: databaseURL)
        let joins = try connection.query(
            "SELECT event_id FROM events WHERE room_id = $1 AND state_key = $2 AND membership = 'join'",
            [.text(leave.roomID), .text(leave.userID)])
        let join = try XCTUnwrap(joins[0].string(0))
        let room: PostgresValue = .text(leave.roomID)
        _ = try connection.query("UPDATE memberships SET membership = 'join', event_id = $3 WHERE room_id = $1 AND user_id = $2",
                                 [room, .text(leave.userID), .text(join)])
        guard deletingTheEvent else { return }
        _ = try connection.query(
            "UPDATE current_state SET event_id = $3 WHERE room_id = $1 AND type = 'm.room.member' AND state_key = $2",
            [room, .text(leave.userID), .text(join)])
        for table in ["forward_extremities", "events"] {
            _ = try connection.query("DELETE FROM \(table) WHERE room_id = $1 AND event_id = $2", [room, .text(leave.eventID)])
        }
    }
}
