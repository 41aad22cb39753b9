import Foundation
import Postgres
@testable import Storage
import TestSupport
import XCTest

/// Room import: one transaction, idempotent, refusing what would need state resolution, fast for big rooms.
final class ImportRoomTests: XCTestCase {
    private var pool: PostgresPool!
    private var store: RoomStore!

    override func setUp() async throws {
        pool = try await StorageFixture.migratedPool(prefix: "import")
        store = RoomStore(pool: pool)
    }

    override func tearDown() async throws {
        await pool.close()
    }

    private func smallRoom(_ roomID: String = "!small:resident.test") -> RoomBuilder {
        var room = RoomBuilder(roomID: roomID)
        room.join("@alice:resident.test")
        room.join("@bob:remote.test")
        room.append(type: "m.room.message", stateKey: nil, sender: "@bob:remote.test", membership: nil, id: "$message")
        room.append(type: "m.room.member", stateKey: "@carol:remote.test", sender: "@alice:resident.test",
                    membership: "invite", id: "$carol-invite")
        return room
    }

    func testImportStoresStateMembershipsAndExtremities() async throws {
        let room = smallRoom()
        let summary = try await store.importRoom(roomID: room.roomID, version: "10", events: room.events, state: room.stateRecords)
        XCTAssertEqual(summary, ImportSummary(imported: true, events: 5, newEvents: 5, stateEvents: 4, joinedMembers: 2,
                                              forwardExtremities: 1))
        let members = try await store.members(roomID: room.roomID)
        XCTAssertEqual(members.map(\.userID), ["@alice:resident.test", "@bob:remote.test", "@carol:remote.test"])
        XCTAssertEqual(members.map(\.membership), ["join", "join", "invite"])
        XCTAssertEqual(members.map(\.eventID), ["$join-@alice:resident.test-\(room.roomID)", "$join-@bob:remote.test-\(room.roomID)",
                                                "$carol-invite"])
        let extremities = try await store.forwardExtremities(roomID: room.roomID, limit: 20)
        XCTAssertEqual(extremities.map(\.eventID), ["$carol-invite"])
        let state = try await store.currentState(roomID: room.roomID)
        XCTAssertEqual(state, room.stateRecords.sorted { ($0.type, $0.stateKey ?? "") < ($1.type, $1.stateKey ?? "") })
        let picked = try await store.currentStateEvents(
            roomID: room.roomID, keys: [("m.room.create", ""), ("m.room.member", "@nobody:x"), ("m.room.member", "@bob:remote.test")])
        XCTAssertEqual(Set(picked.map(\.eventID)), ["$create-\(room.roomID)", "$join-@bob:remote.test-\(room.roomID)"])
        let messages = try await store.events(roomID: room.roomID, ids: ["$message", "$unknown"])
        XCTAssertEqual(messages.map(\.stateKey), [nil])
        let servers = try await StorageFixture.rows(pool, "SELECT server_name, joined_members FROM room_joined_servers ORDER BY 1")
        XCTAssertEqual(servers, [["remote.test", "1"], ["resident.test", "1"]])
    }

    func testReimportChangesNothingEvenAfterLeaves() async throws {
        let room = smallRoom()
        _ = try await store.importRoom(roomID: room.roomID, version: "10", events: room.events, state: room.stateRecords)
        let leave = room.leave("@bob:remote.test", id: "$bob-leave", prevEvents: [room.lastEventID])
        _ = try await store.storeLeave(leave, expectedMembership: "join")
        let before = try await StorageFixture.dump(pool, roomID: room.roomID)

        let again = try await store.importRoom(roomID: room.roomID, version: "10", events: room.events, state: room.stateRecords)

        XCTAssertEqual(again, ImportSummary(imported: false, events: 5, newEvents: 0), "no totals: nothing new was written")
        let after = try await StorageFixture.dump(pool, roomID: room.roomID)
        XCTAssertEqual(after, before)
    }

    func testConflictingImportsAreRefusedAndWriteNothing() async throws {
        let room = smallRoom()
        _ = try await store.importRoom(roomID: room.roomID, version: "10", events: room.events, state: room.stateRecords)
        let before = try await StorageFixture.dump(pool, roomID: room.roomID)

        await assertThrows(StorageError.importConflict(roomID: room.roomID, reason: "the room is held with another room version")) {
            _ = try await self.store.importRoom(roomID: room.roomID, version: "11", events: room.events, state: room.stateRecords)
        }
        // Extending the room is an append (below); an event citing one the room never had is another history.
        let stray = RoomBuilder.record(roomID: room.roomID, id: "$stray", type: "m.room.message", stateKey: nil,
                                       sender: "@bob:remote.test", membership: nil, prevEvents: ["$elsewhere"], depth: 9)
        await assertThrows(StorageError.importConflict(roomID: room.roomID, reason: "the room is held with a different history")) {
            _ = try await self.store.importRoom(roomID: room.roomID, version: "10", events: room.events + [stray], state: room.stateRecords)
        }
        let after = try await StorageFixture.dump(pool, roomID: room.roomID)
        XCTAssertEqual(after, before)

        var thief = RoomBuilder(roomID: "!thief:resident.test")
        thief.append(type: "m.room.message", stateKey: nil, sender: "@x:remote.test", membership: nil, id: "$message")
        await assertThrows(StorageError.importConflict(roomID: thief.roomID, reason: "an event ID of the import is used by another room")) {
            _ = try await self.store.importRoom(roomID: thief.roomID, version: "10", events: thief.events, state: thief.stateRecords)
        }
        let thiefRoom = try await store.roomVersion(thief.roomID)
        XCTAssertNil(thiefRoom, "a refused import leaves no room behind")
    }

    /// An append changes each server's joined-member count by its membership events alone (sql/0027):
    /// the counts stay those a recount of the memberships gives, through joins, leaves, bans,
    /// invites, a server's first member and its last, and two events of one member in one batch;
    /// a server left without members keeps its `left_position`, and one joining again starts after.
    func testAnAppendKeepsEachServersJoinedCountAsARecountWould() async throws {
        var room = RoomBuilder(roomID: "!counts:resident.test")
        for user in ["@a1:a.test", "@a2:a.test", "@b1:b.test", "@c1:c.test"] { room.join(user) }
        _ = try await store.importRoom(roomID: room.roomID, version: room.version, events: room.events, state: room.stateRecords)
        var batch: [EventRecord] = []
        var current = Dictionary(uniqueKeysWithValues: room.stateRecords.compactMap { record in record.stateKey.map { ($0, record.eventID) } })
        // Each membership event builds on the member's current one (import_room refuses it otherwise).
        func add(_ user: String, _ membership: String, sender: String? = nil) {
            let id = "$\(batch.count)-\(membership)-\(user)"
            batch.append(EventRecord(
                eventID: id, roomID: room.roomID, type: "m.room.member", stateKey: user, sender: sender ?? user,
                depth: Int64(100 + batch.count), originServerTS: 1, membership: membership,
                prevEvents: [batch.last?.eventID ?? room.lastEventID],
                authEvents: ["$create-\(room.roomID)"] + (current[user].map { [$0] } ?? []), pdu: Array("{}".utf8)))
            current[user] = id
        }
        add("@b1:b.test", "leave")                                    // b.test's last member: 1 → 0
        add("@a1:a.test", "ban", sender: "@creator:resident.test")    // a.test 2 → 1
        add("@d1:d.test", "join")                                     // a new server
        add("@e1:e.test", "invite", sender: "@a2:a.test")             // not joined: no row
        add("@f1:f.test", "join")                                     // joins and leaves in one batch: net 0
        add("@f1:f.test", "leave")
        let first = try await store.importRoom(roomID: room.roomID, version: room.version, events: batch, state: [])
        XCTAssertEqual(first.newEvents, 6)
        try await assertJoinedCountsAreARecount(roomID: room.roomID)
        let afterFirst = try await StorageFixture.rows(pool, """
            SELECT server_name, joined_members, left_position IS NOT NULL FROM room_joined_servers WHERE room_id = $1 ORDER BY 1
            """, [.text(room.roomID)])
        XCTAssertEqual(afterFirst, [["a.test", "1", "f"], ["b.test", "0", "t"], ["c.test", "1", "f"], ["d.test", "1", "f"]], "no row for an invited server, nor for one that joined and left")

        let rejoin = EventRecord(
            eventID: "$b1-again", roomID: room.roomID, type: "m.room.member", stateKey: "@b1:b.test", sender: "@b1:b.test",
            depth: 200, originServerTS: 1, membership: "join", prevEvents: [batch.last?.eventID ?? ""],
            authEvents: ["$create-\(room.roomID)", current["@b1:b.test"] ?? ""], pdu: Array("{}".utf8))
        _ = try await store.importRoom(roomID: room.roomID, version: room.version, events: [rejoin], state: [])
        try await assertJoinedCountsAreARecount(roomID: room.roomID)
        let b = try await StorageFixture.rows(pool, """
            SELECT joined_members, left_position IS NULL, since_position = (SELECT stream_ordering FROM events WHERE event_id = '$b1-again')
            FROM room_joined_servers WHERE room_id = $1 AND server_name = 'b.test'
            """, [.text(room.roomID)])
        XCTAssertEqual(b, [["1", "t", "t"]], "b.test joined again: it starts after the append")
    }

    /// An append reads the memberships of the members it changes, not the room's (sql/0027: a
    /// push into a room of 100,000 members cost 144–220 ms under its lock, every row read several times).
    func testAnAppendReadsOnlyTheMembershipsItChanges() async throws {
        var room = RoomBuilder(roomID: "!big-append:resident.test")
        for member in 0..<3000 { room.join("@m\(member):remote\(member % 50).test") }
        _ = try await store.importRoom(roomID: room.roomID, version: room.version, events: room.events, state: room.stateRecords)
        let join = RoomBuilder.record(
            roomID: room.roomID, id: "$newcomer", type: "m.room.member", stateKey: "@new:remote7.test", sender: "@new:remote7.test",
            membership: "join", prevEvents: [room.lastEventID], depth: 5000)
        let message = RoomBuilder.record(
            roomID: room.roomID, id: "$message", type: "m.room.message", stateKey: nil, sender: "@new:remote7.test",
            membership: nil, prevEvents: ["$newcomer"], depth: 5001)
        let document = RoomStore.importDocument([join, message])
        let connection = try PostgresConnection(url: pool.configuration.url)
        _ = try connection.query("BEGIN")
        _ = try connection.query("SELECT outcome FROM import_room($1, $2, $3::json, $4)",
                                 [.text(room.roomID), .text(room.version), .text(document), .textArray([])])
        let reads = try connection.query("""
            SELECT relname, seq_tup_read + coalesce(idx_tup_fetch, 0) FROM pg_stat_xact_user_tables
            WHERE relname IN ('memberships', 'current_state', 'forward_extremities', 'room_joined_servers') ORDER BY 1
            """).rows.map { [$0.string(0) ?? "", $0.string(1) ?? ""] }
        _ = try connection.query("COMMIT")
        for row in reads { XCTAssertLessThan(Int(row[1]) ?? .max, 10, "rows of \(row[0]) read for a push of two events") }
        try await assertJoinedCountsAreARecount(roomID: room.roomID)
    }

    /// room_joined_servers' positive counts are exactly what the memberships give.
    private func assertJoinedCountsAreARecount(roomID: String, file: StaticString = #filePath, line: UInt = #line) async throws {
        let kept = try await StorageFixture.rows(pool, """
            SELECT server_name, joined_members FROM room_joined_servers WHERE room_id = $1 AND joined_members > 0 ORDER BY 1
            """, [.text(roomID)])
        let recount = try await StorageFixture.rows(pool, """
            SELECT user_server(user_id), count(*) FROM memberships WHERE room_id = $1 AND membership = 'join' GROUP BY 1 ORDER BY 1
            """, [.text(roomID)])
        XCTAssertEqual(kept, recount, file: file, line: line)
    }

    /// Issue 15: a held room extended by a longer history gets what is new; a membership event built
    /// without knowing a leave accepted meanwhile is refused, naming both; the feed sees only the leave.
    func testAppendExtendsAHeldRoomAndRefusesWhatConflictsWithAnAcceptedLeave() async throws {
        let room = smallRoom()
        _ = try await store.importRoom(roomID: room.roomID, version: "10", events: room.events, state: room.stateRecords)
        var longer = room
        longer.join("@dave:remote.test")
        let appended = try await store.importRoom(roomID: room.roomID, version: "10", events: longer.events, state: longer.stateRecords)
        XCTAssertEqual(appended, ImportSummary(imported: true, events: 6, newEvents: 1), "an append counts no totals (sql/0027)")
        let state = try await StorageFixture.rows(pool, "SELECT count(*) FROM current_state WHERE room_id = $1", [.text(room.roomID)])
        XCTAssertEqual(state, [["5"]])
        let again = try await store.importRoom(roomID: room.roomID, version: "10", events: longer.events, state: longer.stateRecords)
        XCTAssertEqual(again.newEvents, 0)
        XCTAssertFalse(again.imported)
        let servers = try await StorageFixture.rows(pool, "SELECT server_name, joined_members FROM room_joined_servers ORDER BY 1")
        XCTAssertEqual(servers, [["remote.test", "2"], ["resident.test", "1"]])

        let leave = longer.leave("@bob:remote.test", id: "$bob-leave", prevEvents: [longer.lastEventID])
        _ = try await store.storeLeave(leave, expectedMembership: "join")
        let before = try await StorageFixture.dump(pool, roomID: room.roomID)
        let unaware = RoomBuilder.record(roomID: room.roomID, id: "$bob-rejoin", type: "m.room.member", stateKey: "@bob:remote.test",
                                         sender: "@bob:remote.test", membership: "join", prevEvents: [longer.lastEventID], depth: 9)
        do {
            _ = try await store.importRoom(roomID: room.roomID, version: "10", events: longer.events + [unaware], state: [])
            XCTFail("a re-join that does not build on the accepted leave must be refused")
        } catch let StorageError.importConflict(_, reason) {
            XCTAssertTrue(reason.contains("$bob-rejoin") && reason.contains("$bob-leave"), reason)
        }
        let after = try await StorageFixture.dump(pool, roomID: room.roomID)
        XCTAssertEqual(after, before)

        let aware = EventRecord(eventID: "$bob-rejoin2", roomID: room.roomID, type: "m.room.member", stateKey: "@bob:remote.test",
                                sender: "@bob:remote.test", depth: 10, originServerTS: 1, membership: "join",
                                prevEvents: ["$bob-leave"], authEvents: ["$create-\(room.roomID)", "$bob-leave"], pdu: Array("{}".utf8))
        let rejoined = try await store.importRoom(roomID: room.roomID, version: "10", events: [aware], state: [])
        XCTAssertEqual(rejoined.newEvents, 1)
        let bob = try await store.membership(roomID: room.roomID, userID: "@bob:remote.test")
        XCTAssertEqual(bob?.eventID, "$bob-rejoin2")
        let extremities = try await store.forwardExtremities(roomID: room.roomID, limit: 20)
        XCTAssertEqual(extremities.map(\.eventID), ["$bob-rejoin2"])
        let feed = try await store.acceptedEvents(after: 0, limit: 100)
        XCTAssertEqual(feed.map(\.eventID), ["$bob-leave"])
        let later = try await store.acceptedEvents(after: feed[0].streamPosition, limit: 100)
        XCTAssertEqual(later, [])
    }

    func testInvalidStateRollsBackTheWholeImport() async throws {
        var room = smallRoom()
        room.append(type: "m.room.member", stateKey: "@x:remote.test", sender: "@x:remote.test", membership: "dance", id: "$bad")
        do {
            _ = try await store.importRoom(roomID: room.roomID, version: "10", events: room.events, state: room.stateRecords)
            XCTFail("an unknown membership violates the memberships check constraint")
        } catch let error as PostgresError {
            XCTAssertEqual(error.sqlState, "23514")
        }
        let dump = try await StorageFixture.dump(pool, roomID: room.roomID)
        XCTAssertEqual(dump.values.map(\.count), Array(repeating: 0, count: dump.count))
    }

    func testStateRecordsMissingFromEventsAreStoredToo() async throws {
        let room = smallRoom()
        let summary = try await store.importRoom(roomID: room.roomID, version: "10", events: [room.events[0]], state: room.stateRecords)
        XCTAssertEqual(summary.events, 4, "the three state events not in `events` are added to it")
        XCTAssertEqual(summary.stateEvents, 4)
    }

    /// Several thousand members in one statement: the timing is printed, not asserted.
    func testLargeRoomImportsInOneStatement() async throws {
        var room = RoomBuilder(roomID: "!large:resident.test")
        for index in 0..<5000 { room.join("@member\(index):server\(index % 50).test") }
        let started = ContinuousClock.now
        let summary = try await store.importRoom(roomID: room.roomID, version: "10", events: room.events, state: room.stateRecords)
        let elapsed = ContinuousClock.now - started
        print("import of \(room.events.count) events / 5000 members: \(elapsed)")
        XCTAssertEqual(summary.joinedMembers, 5000)
        XCTAssertEqual(summary.newEvents, 5001)
        let members = try await store.members(roomID: room.roomID)
        XCTAssertEqual(members.count, 5000)
        let servers = try await StorageFixture.rows(pool, "SELECT count(*), sum(joined_members) FROM room_joined_servers")
        XCTAssertEqual(servers, [["50", "5000"]])
        let orphans = try await StorageFixture.orphans(pool)
        XCTAssertEqual(orphans, [])
    }

    func testForwardExtremitiesAreDeepestFirstAndLimited() async throws {
        var room = RoomBuilder(roomID: "!fork:resident.test")
        room.join("@alice:resident.test")
        let base = room.lastEventID
        var events = room.events
        for (index, depth) in [5, 9, 7].enumerated() {
            events.append(RoomBuilder.record(roomID: room.roomID, id: "$branch\(index)", type: "m.room.message", stateKey: nil,
                                             sender: "@alice:resident.test", membership: nil, prevEvents: [base], depth: Int64(depth)))
        }
        _ = try await store.importRoom(roomID: room.roomID, version: "10", events: events, state: room.stateRecords)
        let all = try await store.forwardExtremities(roomID: room.roomID, limit: 20)
        XCTAssertEqual(all.map(\.eventID), ["$branch1", "$branch2", "$branch0"])
        XCTAssertEqual(all.map(\.depth), [9, 7, 5])
        let two = try await store.forwardExtremities(roomID: room.roomID, limit: 2)
        XCTAssertEqual(two.map(\.eventID), ["$branch1", "$branch2"])
    }
}
