import Postgres
import Storage
import TestSupport
import XCTest

/// The rows a leave updates in place keep their page (a HOT update: no new index entry), even in
/// a room whose import filled its pages (`0012`'s fillfactor).
final class HotUpdateTests: XCTestCase {
    private var pool: PostgresPool!

    override func setUp() async throws {
        pool = try await StorageFixture.migratedPool(prefix: "hot_updates")
    }

    override func tearDown() async throws {
        await pool.close()
    }

    func testALeaveUpdatesItsMembershipAndStateRowsOnTheirOwnPages() async throws {
        let rooms = RoomStore(pool: pool)
        var room = RoomBuilder(roomID: "!hot:resident.test")
        for index in 0..<400 { room.join("@member\(index):remote.test") }
        _ = try await rooms.importRoom(roomID: room.roomID, version: room.version, events: room.events, state: room.stateRecords)
        let member = "@member0:remote.test"
        let pages = """
            SELECT (SELECT (ctid::text::point)[0]::int FROM memberships WHERE room_id = $1 AND user_id = $2),
                   (SELECT (ctid::text::point)[0]::int FROM current_state
                    WHERE room_id = $1 AND type = 'm.room.member' AND state_key = $2),
                   (SELECT count(*) FROM memberships WHERE room_id = $1 AND ctid >= '(1,0)'::tid)
            """
        let before = try await StorageFixture.rows(pool, pages, [.text(room.roomID), .text(member)])
        XCTAssertNotEqual(before[0][2], "0", "the import spans more than one page")

        let leave = room.leave(member, id: "$hot-leave", prevEvents: [room.lastEventID])
        let outcome = try await rooms.storeLeave(leave, expectedMembership: "join")
        guard case .stored = outcome else { return XCTFail("not stored: \(outcome)") }

        let after = try await StorageFixture.rows(pool, pages, [.text(room.roomID), .text(member)])
        XCTAssertEqual(after[0][0], before[0][0], "the membership row's new version stays on its page")
        XCTAssertEqual(after[0][1], before[0][1], "the state entry's new version stays on its page")
    }
}
