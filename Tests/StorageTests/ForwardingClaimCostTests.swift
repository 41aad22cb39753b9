import Postgres
@testable import Storage
import TestSupport
import XCTest

/// A claim reads about as many event rows as it returns, however many rooms its destination is
/// behind in: one probe a room for its first due event, then only the rooms due by the batch's end.
final class ForwardingClaimCostTests: XCTestCase {
    /// b.test is behind by three leaves in each of 60 rooms, stored room after room in turn (so the
    /// rooms' events interleave in the stream). A claim of 50 returns the 50 earliest and reads at
    /// most 60 + 50 event rows — it read every room's three (50 a room in general: 15,000 rows, 45 ms,
    /// for a destination 50 behind in 300 rooms).
    func testAClaimReadsOneRowARoomAndThenOnlyWhatItReturns() async throws {
        let pool = try await StorageFixture.migratedPool(prefix: "claim_cost")
        let store = RoomStore(pool: pool)
        var rooms: [RoomBuilder] = []
        for index in 0..<60 {
            var room = RoomBuilder(roomID: "!r\(index):resident.test")
            for member in 0..<3 { room.join("@m\(member):a.test") }
            room.join("@bob:b.test")
            _ = try await store.importRoom(roomID: room.roomID, version: room.version, events: room.events, state: room.stateRecords)
            rooms.append(room)
        }
        var positions: [Int64] = []
        for member in 0..<3 {
            for room in rooms {
                let leave = room.leave("@m\(member):a.test", id: "$leave-\(member)-\(room.roomID)", prevEvents: [room.lastEventID])
                guard case .stored(let position) = try await store.storeLeave(leave, expectedMembership: "join") else {
                    return XCTFail("not stored")
                }
                positions.append(position)
            }
        }
        let safe = try await store.horizon.safePosition()
        // A connection of its own, so that its transaction's table counts are the claim's alone.
        let connection = try PostgresConnection(url: pool.configuration.url)
        _ = try connection.query("BEGIN")
        let claimed = try connection.query(ForwardingStore.claimSQL, [
            .text("b.test"), .int(50), .int(60_000), .text("test.1"), .text("resident.test"), .int(safe),
        ]).rows.compactMap { $0.int64(3) }
        let read = try connection.query("""
            SELECT coalesce(idx_tup_fetch, 0) + seq_tup_read FROM pg_stat_xact_user_tables WHERE relname = 'events'
            """).rows.first?.int64(0)
        _ = try connection.query("COMMIT")
        XCTAssertEqual(claimed, Array(positions.sorted().prefix(50)), "the 50 earliest due events, in stream order")
        XCTAssertLessThanOrEqual(read ?? .max, 60 + 50, "event rows read")
        await pool.close()
    }
}
