import MatrixCore
import Postgres
@testable import Storage
import TestSupport
import XCTest

/// The sender's scans for due destinations: a full scan probes every (room, server) pair; one
/// after a position looks only at the rooms with events accepted after it.
final class ForwardingScanTests: XCTestCase {
    private var pool: PostgresPool!
    private var rooms: RoomStore!
    private var forwarding: ForwardingStore!
    private var roomA = RoomBuilder(roomID: "!a:resident.test")
    private var roomB = RoomBuilder(roomID: "!b:resident.test")

    override func setUp() async throws {
        pool = try await StorageFixture.migratedPool(prefix: "forwarding_scan")
        rooms = RoomStore(pool: pool)
        forwarding = ForwardingStore(pool: pool, serverName: "resident.test")
        for (index, prefix) in ["a", "b"].enumerated() {
            var room = index == 0 ? roomA : roomB
            room.join("@admin:resident.test")
            room.join("@one:\(prefix)1.test")
            room.join("@two:\(prefix)2.test")
            _ = try await rooms.importRoom(roomID: room.roomID, version: room.version, events: room.events, state: room.stateRecords)
            if index == 0 { roomA = room } else { roomB = room }
        }
    }

    override func tearDown() async throws {
        await pool.close()
    }

    private func leave(_ userID: String, in room: RoomBuilder) async throws {
        let leave = room.leave(userID, id: "$leave-\(userID)", prevEvents: [room.lastEventID])
        let outcome = try await rooms.storeLeave(leave, expectedMembership: "join")
        guard case .stored = outcome else { throw StorageError.malformedRow("not stored: \(outcome)") }
    }

    /// After a leave in room A, a scan from the previous scan's position finds A's servers and not
    /// B's — though b2.test still has an event due (found by the full scan, not yet sent).
    func testAScanAfterAPositionLooksOnlyAtTheRoomsWithNewEvents() async throws {
        try await leave("@one:b1.test", in: roomB)
        let full = try await forwarding.dueDestinations(limit: 10, safe: rooms.horizon.safePosition())
        XCTAssertEqual(full.destinations, ["b2.test"], "b1.test's last member left: nothing is due to it")

        try await leave("@one:a1.test", in: roomA)
        let changed = try await forwarding.dueDestinations(limit: 10, changedAfter: full.scannedThrough, safe: rooms.horizon.safePosition())
        XCTAssertEqual(Set(changed.destinations), ["a1.test", "a2.test"],
                       "room B is not looked at (a1.test, whose last member left, is a false positive: its claim is empty)")
        XCTAssertGreaterThan(changed.scannedThrough, full.scannedThrough)

        let nothingNew = try await forwarding.dueDestinations(limit: 10, changedAfter: changed.scannedThrough, safe: rooms.horizon.safePosition())
        XCTAssertEqual(nothingNew, DueDestinations(destinations: [], scannedThrough: changed.scannedThrough))
        let fullAgain = try await forwarding.dueDestinations(limit: 10, safe: rooms.horizon.safePosition())
        XCTAssertEqual(fullAgain.destinations, ["a2.test", "b2.test"])
        let toA1 = try await forwarding.claim(destination: "a1.test", limit: 50, lease: .seconds(60), safe: rooms.horizon.safePosition())
        XCTAssertEqual(toA1?.events, [])
    }

    /// The incremental scan honours positions, back-off and the limit like the full one.
    func testAScanAfterAPositionSkipsServersAlreadyPastTheEventsAndBackedOffOnes() async throws {
        let start = try await forwarding.dueDestinations(limit: 10, safe: rooms.horizon.safePosition()).scannedThrough
        try await leave("@one:a1.test", in: roomA)
        let claimed = try await forwarding.claim(destination: "a2.test", limit: 50, lease: .seconds(60), safe: rooms.horizon.safePosition())
        let drained = try XCTUnwrap(claimed)
        XCTAssertEqual(drained.events.count, 1)
        try await forwarding.complete(drained, delivered: true)
        let afterDelivery = try await forwarding.dueDestinations(limit: 10, changedAfter: start, safe: rooms.horizon.safePosition())
        XCTAssertEqual(afterDelivery.destinations, ["a1.test"], "a2.test's position is past the leave")

        _ = try await StorageFixture.rows(pool, """
            INSERT INTO destinations (destination, retry_at) VALUES ('a1.test', now() + interval '1 hour')
            ON CONFLICT (destination) DO UPDATE SET retry_at = EXCLUDED.retry_at
            """)
        let backedOff = try await forwarding.dueDestinations(limit: 10, changedAfter: start, safe: rooms.horizon.safePosition())
        XCTAssertEqual(backedOff.destinations, [])
        try await leave("@two:b2.test", in: roomB)
        let limited = try await forwarding.dueDestinations(limit: 1, changedAfter: start, safe: rooms.horizon.safePosition())
        XCTAssertEqual(limited.destinations, ["b1.test"])
    }

    /// Destinations without a failure since their last delivery come first, whatever their names
    /// or how far behind: b2.test before a2.test, whose back-off has ended (it failed three times:
    /// a server that hangs holds a slot for its whole timeout). Both scans.
    func testDestinationsThatKeepFailingComeAfterTheHealthyOnes() async throws {
        let start = try await forwarding.dueDestinations(limit: 10, safe: rooms.horizon.safePosition()).scannedThrough
        try await leave("@one:a1.test", in: roomA)
        try await leave("@one:b1.test", in: roomB)
        _ = try await StorageFixture.rows(pool, """
            INSERT INTO destinations (destination, failures, retry_at) VALUES ('a2.test', 3, now() - interval '1 second')
            ON CONFLICT (destination) DO UPDATE SET failures = EXCLUDED.failures, retry_at = EXCLUDED.retry_at
            """)
        let full = try await forwarding.dueDestinations(limit: 10, safe: rooms.horizon.safePosition())
        XCTAssertEqual(full.destinations, ["b2.test", "a2.test"])
        XCTAssertEqual(full.failing, ["a2.test"])
        let first = try await forwarding.dueDestinations(limit: 1, safe: rooms.horizon.safePosition())
        XCTAssertEqual(first.destinations, ["b2.test"])
        let changed = try await forwarding.dueDestinations(limit: 10, changedAfter: start, safe: rooms.horizon.safePosition())
        XCTAssertEqual(changed.destinations, ["a1.test", "b1.test", "b2.test", "a2.test"])
        XCTAssertEqual(changed.failing, ["a2.test"])
    }

    /// The gauge reads the backlog's extent from positions: 0 once every destination has taken
    /// its events, whatever was delivered before.
    func testTheBacklogGaugeIsZeroOnceEveryDestinationIsPastItsEvents() async throws {
        try await leave("@one:a1.test", in: roomA)
        try await leave("@one:b1.test", in: roomB)
        let gauge = try await forwarding.backlogGauge()
        XCTAssertEqual(gauge.positions, 2 + 1, "a2.test is 2 positions behind (A's leave, then B's), b2.test 1")
        let exact = try await forwarding.backlog().events
        XCTAssertEqual(exact, 2)
        for destination in ["a1.test", "a2.test", "b1.test", "b2.test"] {
            let claimed = try await forwarding.claim(destination: destination, limit: 50, lease: .seconds(60), safe: rooms.horizon.safePosition())
            let batch = try XCTUnwrap(claimed)
            try await forwarding.complete(batch, delivered: true)
        }
        let drained = try await forwarding.backlogGauge()
        XCTAssertEqual(drained.positions, 0)
        XCTAssertNil(drained.oldestWait)
    }

    /// The gauge costs one short index probe per (room, server) pair however long the room, with
    /// statistics and without (a new database before autovacuum's first ANALYZE). Measured here:
    /// the room as an equality beside the position's row comparison read the room's whole index
    /// range per probe (≈ 390 buffers); equality and `stream_ordering >` let the analyzed planner
    /// walk the stream's index from the quiet destination's position (≈ 250); a row comparison on
    /// each side took the primary key's range over the room when nothing was analyzed (≈ 30,500).
    func testTheBacklogGaugeProbesEachServerWithoutReadingTheRoom() async throws {
        try await longRoomWithAQuietDestination()
        let gauge = try await forwarding.backlogGauge()
        XCTAssertEqual(gauge.positions, 0, "room A's events are imported ones: nothing is due to a1.test")
        try await inBothStatisticsStates { statistics in
            let buffers = try await buffersRead(ForwardingStore.backlogGaugeSQL, [.text("resident.test")])
            XCTAssertLessThan(buffers, 120, "buffers the gauge read for 24 (room, server) pairs, \(statistics)")
        }
    }

    /// Servers that left the room and have had every leave they were owed cost the gauge nothing:
    /// their rows stay (a server may come back) and their position stays where they left, so a
    /// probe from there matched no event yet walked every event accepted in the room since (five
    /// servers owed events from position 5, gone at 10, in the 3,000-event room: ≈ 15,000 index
    /// entries, every 5 s per sender).
    func testTheBacklogGaugeSkipsServersThatLeftAndHaveTheirLeaves() async throws {
        try await longRoomWithAQuietDestination()
        _ = try await StorageFixture.rows(pool, """
            UPDATE room_joined_servers SET joined_members = 0, since_position = 5, left_position = 10
            WHERE room_id = '!long:resident.test' AND server_name IN ('s1.test', 's2.test', 's3.test', 's4.test', 's5.test')
            """)
        _ = try await StorageFixture.rows(pool, """
            UPDATE destinations SET stream_position = 10 WHERE destination IN ('s1.test', 's2.test', 's3.test', 's4.test', 's5.test')
            """)
        let gauge = try await forwarding.backlogGauge()
        XCTAssertEqual(gauge.positions, 0, "nothing is due: the five left at position 10 and have everything before it")
        let exact = try await forwarding.backlog().events
        XCTAssertEqual(exact, 0)
        try await inBothStatisticsStates { statistics in
            let buffers = try await buffersRead(ForwardingStore.backlogGaugeSQL, [.text("resident.test")])
            XCTAssertLessThan(buffers, 120, "buffers the gauge read for 24 (room, server) pairs, \(statistics)")
        }
    }

    /// The sender's full scan (every poll of every sender) probes each (room, server) pair from the
    /// destination's position, as the gauge does.
    func testTheFullScanProbesEachServerWithoutWalkingTheStream() async throws {
        try await longRoomWithAQuietDestination()
        let safe = try await rooms.horizon.safePosition()
        let due = try await forwarding.dueDestinations(limit: 10, safe: safe)
        XCTAssertEqual(due.destinations, [], "nothing is due")
        try await inBothStatisticsStates { statistics in
            let buffers = try await buffersRead(ForwardingStore.fullScanSQL, [
                .text("resident.test"), .int(10), .text(forwarding.leaseOwnerPrefix), .int(safe),
            ])
            XCTAssertLessThan(buffers, 120, "buffers the full scan read for 24 (room, server) pairs, \(statistics)")
        }
    }

    /// A claim reads each of the destination's rooms from its position, as the scans do: claiming
    /// the quiet destination finds nothing and reads a few buffers. (Its old conditions, planned
    /// after ANALYZE and another destination's claim, walked the stream's index from position 0
    /// through the long room's 3,000 events: ≈ 200 buffers.)
    func testAClaimReadsEachRoomFromThePositionWithoutWalkingTheStream() async throws {
        try await longRoomWithAQuietDestination()
        let safe = try await rooms.horizon.safePosition()
        let quiet: [PostgresValue] = [
            // A lease that has ended by the next statement: each measurement claims it afresh.
            .text("a1.test"), .int(50), .int(0), .text(forwarding.leaseOwnerPrefix + "0"), .text("resident.test"), .int(safe),
        ]
        try await inBothStatisticsStates { statistics in
            let claimed = try await forwarding.claim(destination: "a2.test", limit: 50, lease: .milliseconds(1), safe: safe)
            XCTAssertEqual(try XCTUnwrap(claimed).events.count, 0, "room A's events are imported ones")
            let buffers = try await buffersRead(ForwardingStore.claimSQL, quiet)
            XCTAssertLessThan(buffers, 60, "buffers one claim read, \(statistics)")
        }
    }

    /// A 3,000-event room whose events were accepted here, spanning servers s0–s19.test; every
    /// destination at the head of the stream but a1.test, still at 0 in quiet room A (whose events
    /// are imported ones: never due).
    private func longRoomWithAQuietDestination() async throws {
        var long = RoomBuilder(roomID: "!long:resident.test")
        long.join("@admin:resident.test")
        for member in 0..<3_000 { long.join("@m\(member):s\(member % 20).test") }
        _ = try await rooms.importRoom(roomID: long.roomID, version: long.version, events: long.events, state: long.stateRecords)
        // As if its events had been accepted here (imported ones are history: never forwarded).
        _ = try await StorageFixture.rows(pool, "UPDATE events SET accepted = true WHERE room_id = $1", [.text(long.roomID)])
        _ = try await StorageFixture.rows(pool, """
            INSERT INTO destinations (destination, stream_position)
            SELECT DISTINCT server_name, CASE WHEN server_name = 'a1.test' THEN 0 ELSE (SELECT max(stream_ordering) FROM events) END
            FROM room_joined_servers WHERE server_name <> 'resident.test'
            ON CONFLICT (destination) DO UPDATE SET stream_position = EXCLUDED.stream_position
            """)
    }

    /// Runs `measure` in the two states a statement is planned in, in turn: the tables as written
    /// (never analyzed), then after ANALYZE (as autovacuum keeps them); it is told which.
    private func inBothStatisticsStates(_ measure: (String) async throws -> Void) async throws {
        try await measure("without statistics")
        _ = try await StorageFixture.rows(pool, "ANALYZE")
        try await measure("with statistics")
    }

    /// Buffers `sql` read (hit or read), from `EXPLAIN (ANALYZE, BUFFERS)`.
    private func buffersRead(_ sql: String, _ parameters: [PostgresValue]) async throws -> Int64 {
        let plan = try await StorageFixture.rows(pool, "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + sql, parameters)
        let top = try XCTUnwrap(JSONParser.parse(Array(try XCTUnwrap(plan.first?.first).utf8)).arrayValue?.first?["Plan"])
        let buffers = (top["Shared Hit Blocks"]?.integerValue ?? 0) + (top["Shared Read Blocks"]?.integerValue ?? 0)
        XCTAssertGreaterThan(buffers, 0, "the plan reports its buffers")
        return buffers
    }
}
