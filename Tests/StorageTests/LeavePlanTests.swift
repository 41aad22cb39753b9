import Postgres
import Storage
import TestSupport
import XCTest

/// `store_leaves` keeps its plans for a connection's life (generic plans, made at the first call):
/// they must probe indexes on whole keys whatever the tables' sizes were then (`sql/0014`).
final class LeavePlanTests: XCTestCase {
    /// A connection stores a leave while every table is tiny (its plans are made then), the tables
    /// grow by thousands of rows, and the same connection stores another leave: that transaction
    /// reads no table by a sequential scan (`pg_stat_xact_user_tables`, this transaction's counts).
    func testStoreLeavesNeverScansATableWhateverItsSizeWhenPlanned() async throws {
        let pool = try await StorageFixture.migratedPool(prefix: "leave_plans")
        let store = RoomStore(pool: pool)
        var room = RoomBuilder(roomID: "!plans:resident.test")
        room.join("@alice:remote.test")
        room.join("@bob:remote.test")
        _ = try await store.importRoom(roomID: room.roomID, version: room.version, events: room.events, state: room.stateRecords)

        let connection = try PostgresConnection(url: pool.configuration.url)   // generic plans, as the workers'
        let first = try connection.query(Self.storeLeave, [.text(room.roomID), .text("@alice:remote.test"), .text("$alice-left"),
                                                           .text(room.lastEventID)])
        XCTAssertEqual(first.rows.first?.string(0), "stored")

        _ = try await StorageFixture.rows(pool, """
            WITH grown AS (INSERT INTO rooms SELECT '!grown' || n || ':resident.test', '10' FROM generate_series(1, 3000) n
                           RETURNING room_id)
            INSERT INTO forward_extremities SELECT room_id, '$tip-' || room_id FROM grown
            """)
        _ = try connection.query("BEGIN")
        let second = try connection.query(Self.storeLeave, [.text(room.roomID), .text("@bob:remote.test"), .text("$bob-left"),
                                                            .text(room.lastEventID)])
        XCTAssertEqual(second.rows.first?.string(0), "stored")
        let scans = try connection.query("""
            SELECT relname, seq_scan, seq_tup_read FROM pg_stat_xact_user_tables WHERE seq_scan > 0 ORDER BY 1
            """).rows.map { row in (0..<row.columnCount).map { row.string($0) ?? "∅" } }
        _ = try connection.query("COMMIT")
        XCTAssertEqual(scans, [], "tables read by a sequential scan while storing a leave")
        await pool.close()
    }

    /// One leave of a joined member (room, user, event ID, prev event) as `store_leaves` takes it.
    private static let storeLeave = """
        SELECT outcome FROM store_leaves(json_build_array(json_build_object(
            'room_id', $1::text, 'event_id', $3::text, 'type', 'm.room.member', 'state_key', $2::text, 'sender', $2::text,
            'depth', 9, 'origin_server_ts', 1700000000009, 'membership', 'leave', 'prev_events', ARRAY[$4::text],
            'auth_events', ARRAY[$4::text], 'pdu', '{}', 'expected_membership', 'join')))
        """
}
