import Postgres
@testable import Storage
import XCTest

/// Who may read a room's events (`GET /event`): servers with a member, past or present — asked on
/// every such request, so answered by an index probe whatever the room's size.
final class HasMemberTests: XCTestCase {
    func testServersWithAnyMembershipPastOrPresentAndNoOther() async throws {
        let pool = try await StorageFixture.migratedPool(prefix: "has_member")
        let store = RoomStore(pool: pool)
        var room = RoomBuilder(roomID: "!members:resident.test")
        room.join("@alice:remote.test")
        room.append(type: "m.room.member", stateKey: "@bob:gone.test", sender: "@bob:gone.test", membership: "leave", id: "$bob")
        room.append(type: "m.room.member", stateKey: "@eve:banned.test", sender: "@creator:resident.test", membership: "ban", id: "$eve")
        _ = try await store.importRoom(roomID: room.roomID, version: room.version, events: room.events, state: room.stateRecords)
        for server in ["remote.test", "gone.test", "banned.test"] {
            let has = try await store.hasMember(roomID: room.roomID, server: server)
            XCTAssertTrue(has, server)
        }
        // Byte for byte, the whole server part: no suffix, prefix, case or port variant.
        for server in ["emote.test", "remote", "remote.test:8448", "REMOTE.test", "other.test"] {
            let has = try await store.hasMember(roomID: room.roomID, server: server)
            XCTAssertFalse(has, server)
        }
        let otherRoom = try await store.hasMember(roomID: "!other:resident.test", server: "remote.test")
        XCTAssertFalse(otherRoom)
        await pool.close()
    }

    /// The plan, run for a server with no member in a room of 3,000 members of one server (whose
    /// statistics make the server look unselective): it reads the index, not the room's
    /// membership rows (which it read and discarded, all of them, before `sql/0025`).
    func testAServerWithoutAMemberCostsAProbeNotTheRoomsMemberships() async throws {
        let pool = try await StorageFixture.migratedPool(prefix: "has_member_plan")
        let store = RoomStore(pool: pool)
        var room = RoomBuilder(roomID: "!big:resident.test")
        for member in 0..<3000 { room.join("@m\(member):remote.test") }
        _ = try await store.importRoom(roomID: room.roomID, version: room.version, events: room.events, state: room.stateRecords)
        _ = try await StorageFixture.rows(pool, "ANALYZE memberships")
        // A connection of its own: Postgres 15 counts a backend's reads not yet reported (at most
        // once a second) in pg_stat_xact_user_tables too — the import's, on a pooled connection.
        let connection = try PostgresConnection(url: pool.configuration.url)
        _ = try connection.query("BEGIN")
        let has = try connection.query(RoomStore.hasMemberSQL, [.text(room.roomID), .text("other.test")]).rows.first?.bool(0)
        let reads = try connection.query("""
            SELECT seq_scan, seq_tup_read, coalesce(idx_tup_fetch, 0) FROM pg_stat_xact_user_tables WHERE relname = 'memberships'
            """).rows.first.map { row in (0..<3).map { row.int64($0) ?? -1 } }
        _ = try connection.query("COMMIT")
        XCTAssertEqual(has, false)
        XCTAssertEqual(reads, [0, 0, 0], "sequential scans, rows they read, rows fetched through an index")
        await pool.close()
    }
}
