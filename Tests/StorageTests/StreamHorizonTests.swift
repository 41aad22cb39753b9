import Postgres
import Storage
import TestSupport
import XCTest

/// Event writers commit out of stream order (they hold the stream lock shared): the feed and the
/// federation sender read only up to the safe point, so neither ever passes a position that
/// commits later. Two rooms, both with a member on b.test, so each leave is due to b.test.
final class StreamHorizonTests: XCTestCase {
    private var pool: PostgresPool!
    private var rooms: RoomStore!
    private var forwarding: ForwardingStore!
    private var first = RoomBuilder(roomID: "!first:resident.test")
    private var second = RoomBuilder(roomID: "!second:resident.test")
    /// A's connection: its transaction stores a leave of `first` and stays open.
    private var writerA: PostgresConnection!

    override func setUp() async throws {
        pool = try await StorageFixture.migratedPool(prefix: "horizon")
        rooms = RoomStore(pool: pool)
        forwarding = ForwardingStore(pool: pool, serverName: "resident.test")
        for index in 0..<2 {
            var room = index == 0 ? first : second
            room.join("@alice:a.test")
            room.join("@bob:b.test")
            _ = try await rooms.importRoom(roomID: room.roomID, version: room.version, events: room.events, state: room.stateRecords)
            if index == 0 { first = room } else { second = room }
        }
        writerA = try PostgresConnection(url: pool.configuration.url)
    }

    override func tearDown() async throws {
        writerA = nil
        await pool.close()
    }

    /// A begins and stores alice's leave of `first` (position p) without committing; B stores
    /// alice's leave of `second` (p + 1) and commits. Returns p.
    private func storeOutOfOrder() async throws -> Int64 {
        let leaveA = first.leave("@alice:a.test", id: "$leave-a", prevEvents: [first.lastEventID])
        _ = try writerA.query("BEGIN")
        let rows = try writerA.query("SELECT outcome, stream_position FROM store_leaves($1::json)",
                                     [.text(StorageFixture.earlierWorkerLeaves([leaveA]))]).rows
        XCTAssertEqual(rows.first?.string(0), "stored")
        let positionA = try XCTUnwrap(rows.first?.int64(1))
        let leaveB = second.leave("@alice:a.test", id: "$leave-b", prevEvents: [second.lastEventID])
        guard case .stored(let positionB) = try await rooms.storeLeave(leaveB, expectedMembership: "join") else {
            throw StorageError.malformedRow("B's leave not stored")
        }
        XCTAssertEqual(positionB, positionA + 1)
        return positionA
    }

    /// The feed's events and b.test's claimed batch (completed, so the position moves) now.
    private func readers() async throws -> (feed: [String], claimed: [String]) {
        let feed = try await rooms.acceptedEvents(after: 0, limit: 100).map(\.eventID)
        let safe = try await rooms.horizon.safePosition()
        let batch = try await forwarding.claim(destination: "b.test", limit: 50, lease: .seconds(60), safe: safe)
        let claimed = try XCTUnwrap(batch)
        XCTAssertLessThanOrEqual(claimed.through, safe, "the destination's position never passes the safe point")
        try await forwarding.complete(claimed, delivered: true)
        return (feed, claimed.events.map(\.eventID))
    }

    func testAnEarlierPositionCommittingLaterIsNotSkipped() async throws {
        let positionA = try await storeOutOfOrder()
        let safeBefore = try await rooms.horizon.safePosition()
        XCTAssertLessThan(safeBefore, positionA, "A is still writing")
        let before = try await readers()
        XCTAssertEqual(before.feed, [], "not B's leave without A's")
        XCTAssertEqual(before.claimed, [])

        _ = try writerA.query("COMMIT")
        let after = try await readers()
        let safe = try await rooms.horizon.safePosition()
        XCTAssertGreaterThanOrEqual(safe, positionA + 1)
        XCTAssertEqual(after.feed, ["$leave-a", "$leave-b"], "both, in stream order")
        XCTAssertEqual(after.claimed, ["$leave-a", "$leave-b"])
    }

    func testARolledBackPositionIsPassedOver() async throws {
        let positionA = try await storeOutOfOrder()
        let before = try await readers()
        XCTAssertEqual(before.feed, [])
        XCTAssertEqual(before.claimed, [])

        _ = try writerA.query("ROLLBACK")
        let after = try await readers()
        let safe = try await rooms.horizon.safePosition()
        XCTAssertGreaterThanOrEqual(safe, positionA + 1)
        XCTAssertEqual(after.feed, ["$leave-b"])
        XCTAssertEqual(after.claimed, ["$leave-b"])
    }

    /// The sender's incremental scan (rooms with events after the previous scan) never claims to
    /// have covered A's position while A is still writing, so the scan after A commits looks at it.
    func testTheIncrementalScanDoesNotPassALaterCommit() async throws {
        let start = try await forwarding.dueDestinations(limit: 10, safe: rooms.horizon.safePosition()).scannedThrough
        let positionA = try await storeOutOfOrder()
        let during = try await forwarding.dueDestinations(limit: 10, changedAfter: start, safe: rooms.horizon.safePosition())
        XCTAssertLessThan(during.scannedThrough, positionA, "B's later position is not covered while A writes")
        XCTAssertEqual(during.destinations, [])

        _ = try writerA.query("COMMIT")
        let after = try await forwarding.dueDestinations(limit: 10, changedAfter: during.scannedThrough,
                                                          safe: rooms.horizon.safePosition())
        XCTAssertTrue(after.destinations.contains("b.test"), "\(after.destinations)")   // (a.test: its own leaves make it look due once)
        XCTAssertGreaterThanOrEqual(after.scannedThrough, positionA + 1)
    }

    /// Only the stream lock's holders are waited for: an open transaction that writes no event
    /// (here one holding a transaction ID and a row lock) does not hold the safe point back.
    func testATransactionWritingNoEventIsNotWaitedFor() async throws {
        _ = try writerA.query("BEGIN")
        _ = try writerA.query("SELECT pg_current_xact_id(), 1 FROM rooms WHERE room_id = $1 FOR UPDATE", [.text(second.roomID)])
        let leave = first.leave("@alice:a.test", id: "$leave-a", prevEvents: [first.lastEventID])
        guard case .stored(let position) = try await rooms.storeLeave(leave, expectedMembership: "join") else {
            return XCTFail("not stored")
        }
        let safe = try await rooms.horizon.safePosition()
        XCTAssertEqual(safe, position, "nobody holds the stream lock: the last position is safe at once")
        let feed = try await rooms.acceptedEvents(after: 0, limit: 100).map(\.eventID)
        XCTAssertEqual(feed, ["$leave-a"])
        _ = try writerA.query("ROLLBACK")
    }
}
