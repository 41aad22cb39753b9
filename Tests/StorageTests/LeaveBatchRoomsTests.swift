import Postgres
import Storage
import TestSupport
import WorkDeadline
import XCTest

/// `LeaveBatcher` hands each writer rooms no other writer holds, so batches of one process never
/// wait for each other's room locks; a batch mixing rooms answers each leave as storing it alone would;
/// a second writer starts only when a full batch waits for it.
final class LeaveBatchRoomsTests: XCTestCase {
    /// 90 leaves at once over 3 rooms, 4 writers: every transaction storing leaves of a room began
    /// (its `store_leaves` call's `statement_timestamp()`) after the room's previous transaction had
    /// finished inserting its events, just before its commit — no call ever waited for another
    /// writer's room lock. A trigger on the events sleeps 20 ms, then logs the transaction's rooms,
    /// so that overlapping writers show.
    func testWritersNeverHoldTheSameRoom() async throws {
        let pool = try await StorageFixture.migratedPool(prefix: "batch_rooms", poolSize: 8)
        let store = RoomStore(pool: pool)
        let rooms = (0..<3).map { index in
            var room = RoomBuilder(roomID: "!rooms\(index):resident.test")
            for member in 0..<30 { room.join("@m\(member):server\(member % 3).test") }
            return room
        }
        for room in rooms {
            _ = try await store.importRoom(roomID: room.roomID, version: room.version, events: room.events, state: room.stateRecords)
        }
        for statement in [
            "CREATE TABLE batch_log (room_id text, tx bigint, started timestamptz, inserted timestamptz)",
            """
            CREATE FUNCTION log_batch() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                PERFORM pg_sleep(0.02);
                INSERT INTO batch_log SELECT n.room_id, txid_current(), statement_timestamp(), clock_timestamp()
                    FROM (SELECT DISTINCT room_id FROM new_events) n;
                RETURN NULL;
            END $$
            """,
            """
            CREATE TRIGGER log_batch AFTER INSERT ON events REFERENCING NEW TABLE AS new_events
                FOR EACH STATEMENT EXECUTE FUNCTION log_batch()
            """,
        ] {
            _ = try await StorageFixture.rows(pool, statement)
        }

        let outcomes = await withTaskGroup(of: String.self) { group in
            for room in rooms {
                for member in 0..<30 {
                    let leave = room.leave("@m\(member):server\(member % 3).test", id: "$leave-\(member)-\(room.roomID)",
                                           prevEvents: [room.lastEventID])
                    group.addTask {
                        do {
                            guard case .stored = try await store.storeLeave(leave, expectedMembership: "join") else { return "not stored" }
                            return "stored"
                        } catch {
                            return "\(error)"
                        }
                    }
                }
            }
            return await group.reduce(into: [String: Int]()) { $0[$1, default: 0] += 1 }
        }
        XCTAssertEqual(outcomes, ["stored": 90])

        let overlaps = try await StorageFixture.rows(pool, """
            SELECT room_id, tx FROM (
                SELECT room_id, tx, started, lag(inserted) OVER (PARTITION BY room_id ORDER BY inserted) AS previous
                FROM batch_log) t
            WHERE started < previous ORDER BY 1, 2
            """)
        XCTAssertEqual(overlaps, [], "a transaction began while another writer held its room")
        let batches = try await StorageFixture.rows(pool, "SELECT count(DISTINCT tx) < 90 FROM batch_log")
        XCTAssertEqual(batches, [["t"]], "leaves were batched")
        let orphans = try await StorageFixture.orphans(pool)
        XCTAssertEqual(orphans, [])
        await pool.close()
    }

    /// One writer, held back by another session's lock on room A while leaves of rooms A, B and C
    /// and of a room not held queue behind it; the batch that follows mixes them all and answers each:
    /// stored, a replay, a changed membership, an unknown room.
    func testABatchMixingRoomsAnswersEachLeave() async throws {
        let pool = try await StorageFixture.migratedPool(prefix: "batch_mixed", poolSize: 2)   // one writer
        let store = RoomStore(pool: pool)
        let rooms = ["!a:resident.test", "!b:resident.test", "!c:resident.test"].map { roomID in
            var room = RoomBuilder(roomID: roomID)
            room.join("@alice:remote.test")
            room.join("@bob:remote.test")
            return room
        }
        for room in rooms {
            _ = try await store.importRoom(roomID: room.roomID, version: room.version, events: room.events, state: room.stateRecords)
        }
        let (a, b, c) = (rooms[0], rooms[1], rooms[2])
        let bobLeftB = b.leave("@bob:remote.test", id: "$bob-b", prevEvents: [b.lastEventID])
        let bobLeftC = c.leave("@bob:remote.test", id: "$bob-c", prevEvents: [c.lastEventID])
        for leave in [bobLeftB, bobLeftC] {
            guard case .stored = try await store.storeLeave(leave, expectedMembership: "join") else { return XCTFail("setup") }
        }

        let (blocker, first) = try await writerHeldUp(store, pool, by: a, leaving: "@bob:remote.test", id: "$bob-a")
        let queued: [(EventRecord, String?)] = [
            (c.leave("@alice:remote.test", id: "$alice-c", prevEvents: [c.lastEventID]), "join"),
            (bobLeftB, "join"),                                                                    // a replay
            (a.leave("@alice:remote.test", id: "$alice-a", prevEvents: [a.lastEventID]), "join"),
            (c.leave("@bob:remote.test", id: "$bob-c-again", prevEvents: [c.lastEventID]), "join"), // already left
            (RoomBuilder(roomID: "!nowhere:resident.test").leave("@alice:remote.test", id: "$nowhere",
                                                                 prevEvents: ["$x"]), "join"),
            (b.leave("@alice:remote.test", id: "$alice-b", prevEvents: [b.lastEventID]), "join"),
        ]
        let tasks = queued.map { leave, expected in
            Task { () -> String in
                do {
                    return "\(try await store.storeLeave(leave, expectedMembership: expected))"
                } catch {
                    return "\(error)"
                }
            }
        }
        try await Task.sleep(for: .milliseconds(200))   // all queued behind it
        _ = try blocker.query("COMMIT")

        guard case .stored = try await first.value else { return XCTFail("bob's leave of A must store") }
        var answers: [String] = []
        for task in tasks { answers.append(await task.value) }
        XCTAssertTrue(answers[0].hasPrefix("stored"), answers[0])
        XCTAssertEqual(answers[1], "\(LeaveOutcome.alreadyStored)")
        XCTAssertTrue(answers[2].hasPrefix("stored"), answers[2])
        XCTAssertEqual(answers[3], "\(LeaveOutcome.membershipChanged(current: "leave"))")
        XCTAssertEqual(answers[4], "\(StorageError.unknownRoom("!nowhere:resident.test"))")
        XCTAssertTrue(answers[5].hasPrefix("stored"), answers[5])
        let batched = try await StorageFixture.rows(pool, """
            SELECT count(DISTINCT xmin::text), count(*) FROM events WHERE event_id IN ('$alice-a', '$alice-b', '$alice-c')
            """)
        XCTAssertEqual(batched, [["1", "3"]], "the three rooms' leaves were stored in one transaction")
        for room in rooms {
            let members = try await store.members(roomID: room.roomID)
            XCTAssertEqual(members.map(\.membership), ["leave", "leave"], room.roomID)
        }
        let joined = try await StorageFixture.rows(pool, "SELECT sum(joined_members) FROM room_joined_servers")
        XCTAssertEqual(joined, [["0"]])
        let orphans = try await StorageFixture.orphans(pool)
        XCTAssertEqual(orphans, [])
        await pool.close()
    }

    /// One writer, held back by another session's lock on room A. Leaves of room B that arrive
    /// meanwhile wait for it — no second writer splits them into calls of one or two — until a full
    /// batch (32) is queued: then a second writer stores all 32 in one transaction while room A is
    /// still locked.
    func testASecondWriterStartsOnlyForAFullBatch() async throws {
        let pool = try await StorageFixture.migratedPool(prefix: "batch_writers", poolSize: 8)   // up to 4 writers
        let store = RoomStore(pool: pool)
        var a = RoomBuilder(roomID: "!a:resident.test")
        a.join("@alice:remote.test")
        var roomB = RoomBuilder(roomID: "!b:resident.test")
        for member in 0..<32 { roomB.join("@m\(member):remote.test") }
        let b = roomB
        for room in [a, roomB] {
            _ = try await store.importRoom(roomID: room.roomID, version: room.version, events: room.events, state: room.stateRecords)
        }
        let storedInB = { try await StorageFixture.rows(pool, "SELECT count(*) FROM events WHERE event_id LIKE '$leave-b-%'") }

        let (blocker, first) = try await writerHeldUp(store, pool, by: a, leaving: "@alice:remote.test", id: "$leave-a")
        let leaveB = { (member: Int) in
            Task { try await store.storeLeave(b.leave("@m\(member):remote.test", id: "$leave-b-\(member)", prevEvents: [b.lastEventID]),
                                              expectedMembership: "join") }
        }
        var queued = (0..<31).map(leaveB)
        try await Task.sleep(for: .milliseconds(200))
        let whileOneWriter = try await storedInB()
        XCTAssertEqual(whileOneWriter, [["0"]], "31 queued leaves started a second writer")

        queued.append(leaveB(31))
        // Polled, not awaited: without a second writer they would wait for room A's lock, which
        // this test holds (its pool sets no lock_timeout) — a failure, not a hang.
        var storedWhileLocked = try await storedInB()
        for _ in 0..<100 where storedWhileLocked != [["32"]] {
            try await Task.sleep(for: .milliseconds(100))
            storedWhileLocked = try await storedInB()
        }
        XCTAssertEqual(storedWhileLocked, [["32"]], "a full batch did not start a second writer while room A was locked")
        let batches = try await StorageFixture.rows(pool, "SELECT count(DISTINCT xmin::text), count(*) FROM events WHERE event_id LIKE '$leave-b-%'")
        XCTAssertEqual(batches, [["1", "32"]], "the full batch was stored in one transaction")

        _ = try blocker.query("COMMIT")
        for task in queued {
            guard case .stored = try await task.value else { return XCTFail("every leave of room B must store") }
        }
        guard case .stored = try await first.value else { return XCTFail("alice's leave of A must store") }
        let orphans = try await StorageFixture.orphans(pool)
        XCTAssertEqual(orphans, [])
        await pool.close()
    }

    /// A queued leave's caller gives up at its request's deadline; the leave stays queued and the
    /// writer stores it with its next batch (the caller's retry then finds it stored).
    func testAQueuedLeavesCallerGivesUpAtItsDeadlineAndTheLeaveIsStillWritten() async throws {
        let pool = try await StorageFixture.migratedPool(prefix: "batch_deadline", poolSize: 2)   // one writer
        let store = RoomStore(pool: pool)
        var roomA = RoomBuilder(roomID: "!a:resident.test")
        roomA.join("@alice:remote.test")
        roomA.join("@bob:remote.test")
        let a = roomA
        _ = try await store.importRoom(roomID: a.roomID, version: a.version, events: a.events, state: a.stateRecords)

        let (blocker, first) = try await writerHeldUp(store, pool, by: a, leaving: "@bob:remote.test", id: "$bob-a")
        let scope = DeadlineScope(deadline: .now + .seconds(30))
        let aliceLeaves = a.leave("@alice:remote.test", id: "$alice-a", prevEvents: [a.lastEventID])
        let queued = Task {
            try await DeadlineScope.$current.withValue(scope) { try await store.storeLeave(aliceLeaves, expectedMembership: "join") }
        }
        try await Task.sleep(for: .milliseconds(200))   // queued behind the held writer
        scope.expire()
        do {
            _ = try await queued.value
            XCTFail("the caller must give up at its deadline")
        } catch {
            XCTAssertTrue("\(error)".contains("deadline"), "\(error)")
        }
        _ = try blocker.query("COMMIT")
        guard case .stored = try await first.value else { return XCTFail("bob's leave must store") }
        var members: [String] = []
        for _ in 0..<100 {
            members = try await store.members(roomID: a.roomID).map(\.membership)
            if members == ["leave", "leave"] { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        XCTAssertEqual(members, ["leave", "leave"], "alice's leave was written after her caller gave up")
        let retried = try await store.storeLeave(aliceLeaves, expectedMembership: "join")
        XCTAssertEqual("\(retried)", "\(LeaveOutcome.alreadyStored)")
        await pool.close()
    }

    /// Twelve leaves, of two rooms, stored together while no writer is busy: the first lets the
    /// others (already runnable) queue behind it before it writes, and all twelve — its own room's
    /// too — go into one transaction, rather than the first alone and the rest after it. One thread
    /// runs every task here, so which tasks are runnable when the first yields is certain.
    func testLeavesStoredTogetherShareTheFirstWritersTransaction() async throws {
        let (pool, store, leaves) = try await twoRoomsOfSix(prefix: "batch_together")
        let outcomes = try await storeTogether(store, leaves)
        for (index, outcome) in outcomes.enumerated() {
            guard case .stored = try outcome.get() else { return XCTFail("leave \(index) must store") }
        }
        let transactions = try await StorageFixture.rows(pool, "SELECT count(DISTINCT xmin::text), count(*) FROM events WHERE event_id LIKE '$leave-%'")
        XCTAssertEqual(transactions, [["1", "12"]], "the leaves stored together did not share one transaction")
        await pool.close()
    }

    /// The same, with the first caller's deadline already passed: it gives up (its leave unwritten)
    /// instead of joining the leaves queued behind it, and hands its writer's slot and room on —
    /// the others are still stored, together.
    func testAFirstWriterPastItsDeadlineHandsTheQueuedLeavesOn() async throws {
        let (pool, store, leaves) = try await twoRoomsOfSix(prefix: "batch_expired")
        let outcomes = try await storeTogether(store, leaves, firstExpired: true)
        XCTAssertThrowsError(try outcomes[0].get(), "the expired caller was answered") { error in
            XCTAssertTrue("\(error)".contains("deadline"), "\(error)")
        }
        for (index, outcome) in outcomes.enumerated().dropFirst() {
            guard case .stored = try outcome.get() else { return XCTFail("leave \(index) must store") }
        }
        let transactions = try await StorageFixture.rows(pool, "SELECT count(DISTINCT xmin::text), count(*) FROM events WHERE event_id LIKE '$leave-%'")
        XCTAssertEqual(transactions, [["1", "11"]], "the queued leaves were not stored together, or the expired one was stored")
        await pool.close()
    }

    /// Rooms A and B of six joined members each, and a leave of each member: A's six first.
    private func twoRoomsOfSix(prefix: String) async throws -> (PostgresPool, RoomStore, [EventRecord]) {
        let pool = try await StorageFixture.migratedPool(prefix: prefix, poolSize: 2)   // one writer
        let store = RoomStore(pool: pool)
        var leaves: [EventRecord] = []
        for name in ["a", "b"] {
            var built = RoomBuilder(roomID: "!\(name):resident.test")
            for member in 0..<6 { built.join("@m\(member):remote.test") }
            let room = built
            _ = try await store.importRoom(roomID: room.roomID, version: room.version, events: room.events, state: room.stateRecords)
            leaves += (0..<6).map { room.leave("@m\($0):remote.test", id: "$leave-\(name)-\($0)", prevEvents: [room.lastEventID]) }
        }
        return (pool, store, leaves)
    }

    /// Stores `leaves` from tasks started together on one thread (the first's deadline already
    /// passed if `firstExpired`; the others give up after 30 s); their outcomes, in order.
    private func storeTogether(_ store: RoomStore, _ leaves: [EventRecord],
                               firstExpired: Bool = false) async throws -> [Result<LeaveOutcome, any Error>] {
        let expired = DeadlineScope(deadline: .now + .seconds(30))
        if firstExpired { expired.expire() }
        let patience = DeadlineScope(deadline: .now + .seconds(30))
        let watchdog = Task { try await Task.sleep(for: .seconds(30)); patience.expire() }
        defer { watchdog.cancel() }
        let outcomes = await withTaskExecutorPreference(OneThreadExecutor()) {
            await withTaskGroup(of: (Int, Result<LeaveOutcome, any Error>).self) { group in
                for (index, leave) in leaves.enumerated() {
                    group.addTask {
                        do {
                            return (index, .success(try await DeadlineScope.$current.withValue(index == 0 ? expired : patience) {
                                try await store.storeLeave(leave, expectedMembership: "join")
                            }))
                        } catch {
                            return (index, .failure(error))
                        }
                    }
                }
                var outcomes: [Int: Result<LeaveOutcome, any Error>] = [:]
                for await (index, outcome) in group { outcomes[index] = outcome }
                return outcomes
            }
        }
        return leaves.indices.map { outcomes[$0]! }
    }

    /// Another session locks `room` (BEGIN; SELECT … FOR UPDATE) and a leave of `member` from it is
    /// stored: the writer that takes it waits for the lock until `blocker` commits.
    /// A batch that cannot have one of its rooms' locks in time (another worker's long transaction
    /// holds it past `lock_timeout`) fails only that room's leaves: the others are written apart.
    /// Before, every leave of the batch was answered with the lock's timeout.
    func testARoomWhoseLockCannotBeHadFailsOnlyItsOwnLeaves() async throws {
        let migrated = try await StorageFixture.migratedPool(prefix: "batch_busy_room")
        var configuration = PostgresConfiguration(url: migrated.configuration.url, poolSize: 2)   // one writer
        configuration.lockTimeout = .milliseconds(500)
        let pool = PostgresPool(configuration: configuration)
        let store = RoomStore(pool: pool)
        var rooms: [RoomBuilder] = []
        for name in ["x", "a", "b"] {
            var room = RoomBuilder(roomID: "!\(name):resident.test")
            room.join("@alice:remote.test")
            _ = try await store.importRoom(roomID: room.roomID, version: room.version, events: room.events, state: room.stateRecords)
            rooms.append(room)
        }
        let (x, a, b) = (rooms[0], rooms[1], rooms[2])
        // Room B is held by "another worker" throughout; the writer is busy with room X's leave
        // (held up by X's lock) while A's and B's leaves queue, so they are written together next.
        let holderOfB = try PostgresConnection(url: pool.configuration.url)
        _ = try holderOfB.query("BEGIN")
        _ = try holderOfB.query("SELECT 1 FROM rooms WHERE room_id = $1 FOR UPDATE", [.text(b.roomID)])
        let (holderOfX, first) = try await writerHeldUp(store, pool, by: x, leaving: "@alice:remote.test", id: "$leave-x")
        let leaveA = Task { try await store.storeLeave(a.leave("@alice:remote.test", id: "$leave-a", prevEvents: [a.lastEventID]),
                                                       expectedMembership: "join") }
        let leaveB = Task { try await store.storeLeave(b.leave("@alice:remote.test", id: "$leave-b", prevEvents: [b.lastEventID]),
                                                       expectedMembership: "join") }
        _ = try? await first.value   // X's lock timed out; the writer takes A's and B's leaves together
        guard case .stored = try await leaveA.value else { return XCTFail("A's leave must store") }
        do {
            _ = try await leaveB.value
            XCTFail("B's leave cannot have its room's lock")
        } catch {
            XCTAssertTrue("\(error)".contains("[55P03]"), "\(error)")   // the lock's timeout, as the storage layer reports it
        }
        _ = try holderOfB.query("ROLLBACK")
        _ = try holderOfX.query("ROLLBACK")
        await pool.close()
        await migrated.close()
    }

    private func writerHeldUp(_ store: RoomStore, _ pool: PostgresPool, by room: RoomBuilder, leaving member: String,
                              id: String) async throws -> (blocker: PostgresConnection, first: Task<LeaveOutcome, any Error>) {
        let blocker = try PostgresConnection(url: pool.configuration.url)
        _ = try blocker.query("BEGIN")
        _ = try blocker.query("SELECT 1 FROM rooms WHERE room_id = $1 FOR UPDATE", [.text(room.roomID)])
        let first = Task { try await store.storeLeave(room.leave(member, id: id, prevEvents: [room.lastEventID]),
                                                      expectedMembership: "join") }
        try await Task.sleep(for: .milliseconds(200))   // the writer now waits for the room's lock
        return (blocker, first)
    }
}
