import Postgres
@testable import Storage
import TestSupport
import XCTest

/// The leave transaction on one connection: what it writes, replays, refusals, and faults.
final class LeaveTransactionTests: XCTestCase {
    private var pool: PostgresPool!
    private var store: RoomStore!
    private var room = RoomBuilder(roomID: "!leave:resident.test")

    override func setUp() async throws {
        pool = try await StorageFixture.migratedPool(prefix: "leave")
        store = RoomStore(pool: pool)
        room.join("@alice:resident.test")
        room.join("@bob:remote.test")
        room.join("@carol:third.test")
        room.join("@dan:remote.test")
        _ = try await store.importRoom(roomID: room.roomID, version: room.version, events: room.events, state: room.stateRecords)
    }

    override func tearDown() async throws {
        await pool.close()
    }

    func testHappyPathWritesEverythingInOneTransaction() async throws {
        let leave = room.leave("@bob:remote.test", id: "$bob-leave", prevEvents: [room.lastEventID])
        let positionBefore = try await StorageFixture.rows(pool, "SELECT max(stream_ordering) FROM events")[0][0]

        let outcome = try await store.storeLeave(leave, expectedMembership: "join")

        guard case .stored(let position) = outcome else { return XCTFail("not stored: \(outcome)") }
        XCTAssertGreaterThan(position, Int64(positionBefore) ?? .max)
        let stored = try await store.event(id: "$bob-leave")
        XCTAssertEqual(stored, leave, "the event reads back exactly, PDU bytes included")
        let membership = try await store.membership(roomID: room.roomID, userID: "@bob:remote.test")
        XCTAssertEqual(membership?.membership, "leave")
        XCTAssertEqual(membership?.eventID, "$bob-leave")
        let state = try await store.currentStateEvents(roomID: room.roomID, keys: [("m.room.member", "@bob:remote.test")])
        XCTAssertEqual(state, [leave])
        let extremities = try await store.forwardExtremities(roomID: room.roomID, limit: 20)
        XCTAssertEqual(extremities.map(\.eventID), ["$bob-leave"])
        XCTAssertEqual(extremities.map(\.depth), [leave.depth])
        let accepted = try await StorageFixture.rows(pool, "SELECT accepted FROM events WHERE event_id = '$bob-leave'")
        XCTAssertEqual(accepted, [["t"]], "an accepted leave is marked for forwarding")
        let servers = try await StorageFixture.rows(pool, "SELECT server_name, joined_members FROM room_joined_servers ORDER BY 1")
        XCTAssertEqual(servers, [["remote.test", "1"], ["resident.test", "1"], ["third.test", "1"]])
        let streamRow = try await StorageFixture.rows(pool, "SELECT stream_ordering FROM events WHERE event_id = '$bob-leave'")
        XCTAssertEqual(streamRow, [[String(position)]])
    }

    func testReplayIsAlreadyStoredAndWritesNothing() async throws {
        let leave = room.leave("@bob:remote.test", id: "$bob-leave", prevEvents: [room.lastEventID])
        _ = try await store.storeLeave(leave, expectedMembership: "join")
        let before = try await StorageFixture.dump(pool, roomID: room.roomID)
        for expected in ["join", "leave"] {
            let again = try await store.storeLeave(leave, expectedMembership: expected)
            XCTAssertEqual(again, .alreadyStored)
        }
        let after = try await StorageFixture.dump(pool, roomID: room.roomID)
        XCTAssertEqual(after, before)
    }

    /// A membership of the same value recorded by another event — kicked and joined again since the
    /// leave was decided against the first join — has changed too: the leave is refused, nothing
    /// written; decided against the rejoin, it is stored.
    func testAMembershipOfTheSameValueByAnotherEventHasChanged() async throws {
        var rejoined = RoomBuilder(roomID: "!rejoined:resident.test")
        rejoined.join("@bob:remote.test")
        let firstJoin = rejoined.lastEventID
        rejoined.append(type: "m.room.member", stateKey: "@bob:remote.test", sender: "@creator:resident.test",
                        membership: "leave", id: "$kick-bob")
        rejoined.append(type: "m.room.member", stateKey: "@bob:remote.test", sender: "@bob:remote.test",
                        membership: "join", id: "$rejoin-bob")
        _ = try await store.importRoom(roomID: rejoined.roomID, version: rejoined.version, events: rejoined.events,
                                       state: rejoined.stateRecords)
        let before = try await StorageFixture.dump(pool, roomID: rejoined.roomID)
        let leave = rejoined.leave("@bob:remote.test", id: "$bob-leave", prevEvents: [rejoined.lastEventID])

        let stale = try await store.storeLeave(leave, expectedMembership: "join", expectedMembershipEvent: firstJoin)
        XCTAssertEqual(stale, .membershipChanged(current: "join"))
        let after = try await StorageFixture.dump(pool, roomID: rejoined.roomID)
        XCTAssertEqual(after, before)

        let current = try await store.storeLeave(leave, expectedMembership: "join", expectedMembershipEvent: "$rejoin-bob")
        guard case .stored = current else { return XCTFail("not stored: \(current)") }
        let membership = try await store.membership(roomID: rejoined.roomID, userID: "@bob:remote.test")
        XCTAssertEqual(membership?.eventID, "$bob-leave")
    }

    func testChangedMembershipIsReportedAndWritesNothing() async throws {
        let before = try await StorageFixture.dump(pool, roomID: room.roomID)
        let stale = room.leave("@bob:remote.test", id: "$bob-leave", prevEvents: [room.lastEventID])
        let outcome = try await store.storeLeave(stale, expectedMembership: "invite")
        XCTAssertEqual(outcome, .membershipChanged(current: "join"))
        let stranger = room.leave("@eve:remote.test", id: "$eve-leave", prevEvents: [room.lastEventID])
        let strangerOutcome = try await store.storeLeave(stranger, expectedMembership: "join")
        XCTAssertEqual(strangerOutcome, .membershipChanged(current: nil))
        let after = try await StorageFixture.dump(pool, roomID: room.roomID)
        XCTAssertEqual(after, before)
    }

    func testUnknownRoomAndForeignEventIDAreTypedErrors() async throws {
        var other = RoomBuilder(roomID: "!other:resident.test")
        other.join("@bob:remote.test")
        _ = try await store.importRoom(roomID: other.roomID, version: other.version, events: other.events, state: other.stateRecords)

        let nowhere = RoomBuilder(roomID: "!nowhere:resident.test").leave("@bob:remote.test", id: "$x", prevEvents: [])
        await assertThrows(StorageError.unknownRoom("!nowhere:resident.test")) {
            _ = try await self.store.storeLeave(nowhere, expectedMembership: "join")
        }
        let reused = other.leave("@bob:remote.test", id: room.lastEventID, prevEvents: [other.lastEventID])
        await assertThrows(StorageError.eventIDInOtherRoom(eventID: room.lastEventID)) {
            _ = try await self.store.storeLeave(reused, expectedMembership: "join")
        }
    }

    func testAnEventThatIsNotALeaveIsRefusedByTheFunction() async throws {
        let join = RoomBuilder.record(roomID: room.roomID, id: "$j", type: "m.room.member", stateKey: "@x:remote.test",
                                      sender: "@x:remote.test", membership: "join", prevEvents: [room.lastEventID], depth: 9)
        do {
            _ = try await store.storeLeave(join, expectedMembership: "join")
            XCTFail("store_leaves must refuse a join")
        } catch {
            guard let error = databaseFailure(error) else { throw error }
            XCTAssertEqual(error.sqlState, "22023")
        }
    }

    func testTheTransactionRefusesToRunAboveReadCommitted() async throws {
        let leave = room.leave("@bob:remote.test", id: "$bob-leave", prevEvents: [room.lastEventID])
        do {
            try await pool.withConnection { connection in
                try connection.transaction { connection in
                    try connection.execute(script: "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                    _ = try connection.query("""
                        SELECT * FROM store_leaves(json_build_array(json_build_object(
                            'room_id', $1::text, 'event_id', $2::text, 'type', 'm.room.member', 'state_key', $3::text,
                            'sender', $3::text, 'depth', 5, 'origin_server_ts', 5, 'membership', 'leave',
                            'prev_events', '{}'::text[], 'auth_events', '{}'::text[], 'pdu', '{}',
                            'expected_membership', 'join')))
                        """, [.text(leave.roomID), .text(leave.eventID), .text("@bob:remote.test")])
                }
            }
            XCTFail("store_leaves must refuse REPEATABLE READ")
        } catch let error as PostgresError {
            XCTAssertEqual(error.sqlState, "25000")
        }
        let stored = try await store.event(id: "$bob-leave")
        XCTAssertNil(stored)
    }

    /// Sets a server's joined-member count, so that a leave of one of its members violates the
    /// count's check constraint (`joined_members >= 0`) in the transaction's last statement.
    private func setJoinedMembers(_ server: String, _ count: Int) async throws {
        _ = try await StorageFixture.rows(pool, "UPDATE room_joined_servers SET joined_members = $2 WHERE server_name = $1",
                                          [.text(server), .int(Int64(count))])
    }

    /// A constraint violation in the last statement (the server's joined-member count going below
    /// zero) rolls back the event, membership, state and extremity changes made before it.
    func testConstraintViolationInTheLastStatementLeavesNoRow() async throws {
        try await setJoinedMembers("remote.test", 0)
        let before = try await StorageFixture.dump(pool, roomID: room.roomID)
        let leave = room.leave("@bob:remote.test", id: "$bob-leave", prevEvents: [room.lastEventID])
        do {
            _ = try await store.storeLeave(leave, expectedMembership: "join")
            XCTFail("a negative joined-member count must violate the check constraint")
        } catch {
            guard let error = databaseFailure(error) else { throw error }
            XCTAssertEqual(error.sqlState, "23514")
        }
        let after = try await StorageFixture.dump(pool, roomID: room.roomID)
        XCTAssertEqual(after, before)
        let stored = try await store.event(id: "$bob-leave")
        XCTAssertNil(stored)
        try await setJoinedMembers("remote.test", 2)
        let retried = try await store.storeLeave(leave, expectedMembership: "join")
        guard case .stored = retried else { return XCTFail("a corrected retry must store: \(retried)") }
    }

    /// Leaves queued behind a busy writer are committed together (`store_leaves`); when one of them
    /// violates a constraint, the others are still stored and only that one fails.
    func testABatchWithOneBadLeaveStoresTheOthersAndFailsOnlyThatOne() async throws {
        try await setJoinedMembers("third.test", 0)
        let joined = room
        let leaves = ["@alice:resident.test", "@bob:remote.test", "@carol:third.test", "@dan:remote.test"].map { member in
            joined.leave(member, id: "$\(member)-leave", prevEvents: [joined.lastEventID])
        }
        let (narrow, first, queued) = try await storeBehindTheRoomsLock(leaves[0], thenTogether: Array(leaves.dropFirst()))

        guard case .stored = try await first.value else { return XCTFail("alice's leave must store") }
        guard case .stored = try await queued[0].value else { return XCTFail("bob's leave must store") }
        do {
            _ = try await queued[1].value
            XCTFail("carol's leave must violate the joined-member count's check constraint")
        } catch {
            guard let error = databaseFailure(error) else { throw error }
            XCTAssertEqual(error.sqlState, "23514")
        }
        guard case .stored = try await queued[2].value else { return XCTFail("dan's leave must store") }
        let members = try await store.members(roomID: room.roomID)
        XCTAssertEqual(members.map(\.membership), ["leave", "leave", "join", "leave"], "alice, bob, carol, dan")
        let orphans = try await StorageFixture.orphans(pool)
        XCTAssertEqual(orphans, [])
        await narrow.close()
    }

    /// Leaves committed together each keep their own PDU (the PDUs go beside the batch's JSON, by
    /// position: `sql/0020`), byte for byte.
    func testABatchStoresEachLeaveWithItsOwnPDU() async throws {
        let joined = room
        let leaves = ["@alice:resident.test", "@bob:remote.test", "@carol:third.test", "@dan:remote.test"].map { member in
            joined.leave(member, id: "$\(member)-leave", prevEvents: [joined.lastEventID])
        }
        let (narrow, first, queued) = try await storeBehindTheRoomsLock(leaves[0], thenTogether: Array(leaves.dropFirst()))

        for task in [first] + queued {
            guard case .stored = try await task.value else { return XCTFail("every leave must store") }
        }
        for leave in leaves {
            let stored = try await store.event(id: leave.eventID)
            XCTAssertEqual(stored, leave, "\(leave.eventID) reads back exactly, its own PDU included")
        }
        let calls = try await StorageFixture.rows(narrow, """
            SELECT count(DISTINCT xmin::text) FROM events WHERE event_id = ANY ($1)
            """, [.textArray(leaves.dropFirst().map(\.eventID))])
        XCTAssertEqual(calls, [["1"]], "the three queued leaves were one transaction")
        await narrow.close()
    }

    /// A batch holding one event twice and one member twice (a replay racing itself) is not vouched
    /// free of repeats (`LeaveInput.isDistinct`), so `store_leaves` takes it in rounds: each leave
    /// gets its own outcome, as if it had come alone after the ones before it.
    func testABatchWithARepeatedEventAndARepeatedMemberGivesEachItsOwnOutcome() async throws {
        let joined = room
        let alice = joined.leave("@alice:resident.test", id: "$alice-leave", prevEvents: [joined.lastEventID])
        let bob = joined.leave("@bob:remote.test", id: "$bob-leave", prevEvents: [joined.lastEventID])
        let dan = joined.leave("@dan:remote.test", id: "$dan-leave", prevEvents: [joined.lastEventID])
        let danAgain = joined.leave("@dan:remote.test", id: "$dan-leave-again", prevEvents: [joined.lastEventID])
        XCTAssertFalse(LeaveInput.isDistinct([bob, bob, dan, danAgain].map { LeaveWrite(event: $0, expectedMembership: "join") }))
        let (narrow, first, queued) = try await storeBehindTheRoomsLock(alice, thenTogether: [bob, bob, dan, danAgain])

        guard case .stored = try await first.value else { return XCTFail("alice's leave must store") }
        var outcomes: [LeaveOutcome] = []
        for task in queued { outcomes.append(try await task.value) }
        // The tasks queue in whichever order they run: one of each pair is first.
        let bobs = outcomes[0...1].map { if case .stored = $0 { "stored" } else { "\($0)" } }.sorted()
        XCTAssertEqual(bobs, ["alreadyStored", "stored"], "\(outcomes)")
        let dans = outcomes[2...3].map { if case .stored = $0 { "stored" } else { "\($0)" } }.sorted()
        XCTAssertEqual(dans, ["membershipChanged(current: Optional(\"leave\"))", "stored"], "\(outcomes)")
        let storedDan = if case .stored = outcomes[2] { dan.eventID } else { danAgain.eventID }
        let members = try await store.members(roomID: room.roomID)
        XCTAssertEqual(members.map(\.membership), ["leave", "leave", "join", "leave"], "alice, bob, carol, dan")
        let danRow = try await store.membership(roomID: room.roomID, userID: "@dan:remote.test")
        XCTAssertEqual(danRow?.eventID, storedDan)
        let stored = try await StorageFixture.rows(narrow, """
            SELECT count(*), count(DISTINCT xmin::text) FILTER (WHERE event_id <> '$alice-leave')
            FROM events WHERE event_id LIKE '$%-leave%'
            """)
        XCTAssertEqual(stored, [["3", "1"]], "alice's, bob's and one of dan's; the queued ones in one transaction")
        let orphans = try await StorageFixture.orphans(pool)
        XCTAssertEqual(orphans, [])
        await narrow.close()
    }

    /// A caller that vouches wrongly for a batch (`p_distinct`, `sql/0024`) gets an error and writes
    /// nothing: one event twice breaks events' unique index, one member twice the memberships upsert
    /// (or, when the server has fewer joined members than the batch's leaves, the count's domain).
    func testABatchWronglyVouchedFreeOfRepeatsFailsWholeAndWritesNothing() async throws {
        let before = try await StorageFixture.dump(pool, roomID: room.roomID)
        let bob = room.leave("@bob:remote.test", id: "$bob-leave", prevEvents: [room.lastEventID])
        let bobAgain = room.leave("@bob:remote.test", id: "$bob-leave-again", prevEvents: [room.lastEventID])
        let dan = room.leave("@dan:remote.test", id: "$dan-leave", prevEvents: [room.lastEventID])
        for (batch, sqlState) in [([dan, bob, bob], "23505"), ([bob, bobAgain], "21000")] {
            do {
                _ = try await StorageFixture.rows(pool, "SELECT * FROM store_leaves($1::json, NULL, true)",
                                                  [.text(StorageFixture.earlierWorkerLeaves(batch))])
                XCTFail("\(batch.map(\.eventID)) vouched free of repeats must fail")
            } catch let error as PostgresError {
                XCTAssertEqual(error.sqlState, sqlState, "\(error)")
            }
            let after = try await StorageFixture.dump(pool, roomID: room.roomID)
            XCTAssertEqual(after, before)
        }
        let rounds = try await StorageFixture.rows(pool, "SELECT outcome FROM store_leaves($1::json, NULL, false) ORDER BY leave_index",
                                                   [.text(StorageFixture.earlierWorkerLeaves([dan, bob, bobAgain]))])
        XCTAssertEqual(rounds, [["stored"], ["stored"], ["membership_changed"]], "the same batch in rounds")
    }

    /// Stores `first` through a store with one writer while another connection holds the room's
    /// lock, queues `together` behind it (the writer's next batch: one transaction), then lets the
    /// lock go. Returns the store's pool (for the caller to close) and the leaves' tasks.
    private func storeBehindTheRoomsLock(_ first: EventRecord, thenTogether together: [EventRecord]) async throws
        -> (pool: PostgresPool, first: Task<LeaveOutcome, any Error>, together: [Task<LeaveOutcome, any Error>]) {
        let narrow = PostgresPool(configuration: PostgresConfiguration(url: pool.configuration.url, poolSize: 2))
        let batched = RoomStore(pool: narrow)    // one writer at a time
        let blocker = try PostgresConnection(url: pool.configuration.url)
        _ = try blocker.query("BEGIN")
        _ = try blocker.query("SELECT 1 FROM rooms WHERE room_id = $1 FOR UPDATE", [.text(room.roomID)])
        let firstTask = Task { try await batched.storeLeave(first, expectedMembership: "join") }
        try await Task.sleep(for: .milliseconds(200))   // the writer now waits for the room lock
        let queued = together.map { leave in Task { try await batched.storeLeave(leave, expectedMembership: "join") } }
        try await Task.sleep(for: .milliseconds(200))   // all queued behind it
        _ = try blocker.query("COMMIT")
        return (narrow, firstTask, queued)
    }

    /// A failure injected at each table the transaction writes (a trigger raising on any row change)
    /// leaves the room exactly as it was.
    func testFailureAtAnyStatementLeavesNothingWritten() async throws {
        let before = try await StorageFixture.dump(pool, roomID: room.roomID)
        let leave = room.leave("@bob:remote.test", id: "$bob-leave", prevEvents: [room.lastEventID])
        try await pool.withConnection { connection in
            try connection.execute(script: """
                CREATE FUNCTION fail_injected() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN RAISE EXCEPTION 'injected failure on %', TG_TABLE_NAME USING ERRCODE = 'P0001'; END $$;
                """)
        }
        for table in ["events", "memberships", "current_state", "forward_extremities", "room_joined_servers"] {
            try await pool.withConnection { connection in
                try connection.execute(script: """
                    CREATE TRIGGER fail_injected AFTER INSERT OR UPDATE OR DELETE ON \(table)
                    FOR EACH ROW EXECUTE FUNCTION fail_injected()
                    """)
            }
            do {
                _ = try await store.storeLeave(leave, expectedMembership: "join")
                XCTFail("the trigger on \(table) must abort the transaction")
            } catch {
                guard let error = databaseFailure(error) else { throw error }
                XCTAssertEqual(error.sqlState, "P0001")
                XCTAssertTrue(error.message.contains("injected failure on \(table)"), error.message)
            }
            let after = try await StorageFixture.dump(pool, roomID: room.roomID)
            XCTAssertEqual(after, before, "a failure at \(table) left rows behind")
            try await pool.withConnection { connection in
                try connection.execute(script: "DROP TRIGGER fail_injected ON \(table)")
            }
        }
        let outcome = try await store.storeLeave(leave, expectedMembership: "join")
        guard case .stored = outcome else { return XCTFail("without triggers the leave stores: \(outcome)") }
        let orphans = try await StorageFixture.orphans(pool)
        XCTAssertEqual(orphans, [])
    }

    func testAStoredLeaveIsAnnouncedAfterCommitAndAReplayIsNot() async throws {
        var stream = try await StorageFixture.listening(pool)
        defer { stream.stop() }

        let leave = room.leave("@bob:remote.test", id: "$bob-leave", prevEvents: [room.lastEventID])
        let outcome = try await store.storeLeave(leave, expectedMembership: "join")
        guard case .stored(let position) = outcome else { return XCTFail("not stored: \(outcome)") }
        // Notifications are sent after the commit and coalesced (StreamNotifier): the room's import
        // may still be announced first; the leave's is the first at or past its position.
        var announced: StreamNotification?
        while announced.map({ $0.streamPosition < position }) ?? true {
            guard case .notification(let next)? = await stream.events.next() else { return XCTFail("no notification") }
            announced = StreamNotification(payload: next.payload)
        }
        XCTAssertEqual(announced, StreamNotification(streamPosition: position, roomID: room.roomID, eventID: "$bob-leave"))

        let replay = try await store.storeLeave(leave, expectedMembership: "join")
        XCTAssertEqual(replay, .alreadyStored)
        try await pool.withConnection { connection in
            _ = try connection.query("SELECT pg_notify($1, 'sentinel')", [.text(StreamNotification.channel)])
        }
        guard case .notification(let next)? = await stream.events.next() else { return XCTFail("no sentinel") }
        XCTAssertEqual(next.payload, "sentinel", "a replay announces nothing")
    }

    func testStreamNotificationPayloadRoundTrips() {
        let notification = StreamNotification(streamPosition: 42, roomID: "!r:x", eventID: "$e\"\\")
        XCTAssertEqual(notification.payload, #"{"event_id":"$e\"\\","room_id":"!r:x","stream_position":42}"#)
        XCTAssertEqual(StreamNotification(payload: notification.payload), notification)
        XCTAssertNil(StreamNotification(payload: "{}"))
        XCTAssertNil(StreamNotification(payload: "not json"))
    }
}

/// Asserts that `body` throws exactly `expected`.
func assertThrows<E: Error & Equatable>(_ expected: E, _ body: () async throws -> Void,
                                        file: StaticString = #filePath, line: UInt = #line) async {
    do {
        try await body()
        XCTFail("expected \(expected)", file: file, line: line)
    } catch {
        XCTAssertEqual(error as? E, expected, "\(error)", file: file, line: line)
    }
}

/// The database's failure inside a storage error (the SQLSTATE a statement was refused with).
private func databaseFailure(_ error: any Error) -> DatabaseFailure? {
    guard case .database(let failure)? = error as? StorageError else { return nil }
    return failure
}
