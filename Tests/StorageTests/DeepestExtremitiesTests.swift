import Postgres
@testable import Storage
import TestSupport
import XCTest

/// `templateContext` reads a room's deepest forward extremities in index order (`sql/0015`): the
/// same answer as joining every extremity to its event and sorting, at a cost that does not grow
/// with the room's extremity count.
final class DeepestExtremitiesTests: XCTestCase {
    /// A room of 400 extremities at 7 depths (leaves stored in one `store_leaves` batch, all citing
    /// one stale event, as the load generator's are) and another room's: the statement, planned by
    /// a connection while the room had one extremity, returns the deepest 20 (stream position
    /// breaking ties), in order, and that transaction fetched about 20 extremity rows and 21 events
    /// (not the room's 400) — no sequential scan.
    func testDeepestExtremitiesAreReadInIndexOrderWhateverTheirCount() async throws {
        let pool = try await StorageFixture.migratedPool(prefix: "deepest_extremities")
        let store = RoomStore(pool: pool)
        var rooms: [RoomBuilder] = []
        for name in ["!wide:resident.test", "!other:resident.test"] {
            rooms.append(try await Self.importedRoom(name, members: 400, into: store))
        }
        let room = rooms[0]
        let connection = try PostgresConnection(url: pool.configuration.url)   // generic plans, as the workers'
        let parameters: [PostgresValue] = [.text(room.roomID), .textArray(["m.room.create"]), .textArray([""]), .int(20)]
        XCTAssertEqual(try Self.extremities(connection.query(RoomStore.templateContextSQL, parameters)), [room.lastEventID])

        for stale in rooms {
            let stored = try await StorageFixture.rows(pool, Self.staleLeaves, [.text(stale.roomID), .text(stale.lastEventID)])
            XCTAssertEqual(stored, [["400"]])
        }
        let expected = try await StorageFixture.rows(pool, """
            SELECT f.event_id FROM forward_extremities f JOIN events e USING (room_id, event_id)
            WHERE f.room_id = $1 ORDER BY e.depth DESC, e.stream_ordering DESC LIMIT 20
            """, [.text(room.roomID)]).map { $0[0] }
        XCTAssertEqual(expected.count, 20)

        _ = try connection.query("BEGIN")
        let read = try Self.extremities(connection.query(RoomStore.templateContextSQL, parameters))
        let reads = try connection.query("""
            SELECT relname, seq_scan, idx_tup_fetch FROM pg_stat_xact_user_tables
            WHERE relname IN ('forward_extremities', 'events') ORDER BY 1
            """).rows.map { row in (0..<row.columnCount).map { row.string($0) ?? "∅" } }
        _ = try connection.query("COMMIT")
        XCTAssertEqual(read, expected)
        XCTAssertEqual(reads.map { $0[0] }, ["events", "forward_extremities"])
        XCTAssertEqual(reads.map { $0[1] }, ["0", "0"], "sequential scans")
        // The 20 extremities' events and the create event; the old join fetched all 400 of each.
        // A few more are the planner's (index end probes when a statistics change invalidated the plan).
        XCTAssertLessThanOrEqual(Int(reads[0][2]) ?? .max, 30, "events fetched")
        XCTAssertLessThanOrEqual(Int(reads[1][2]) ?? .max, 30, "extremity rows fetched")

        // A row whose columns its writer left NULL (the trigger did not see its event) is still found.
        _ = try await StorageFixture.rows(pool, "UPDATE forward_extremities SET depth = NULL, stream_ordering = NULL WHERE event_id = ANY ($1)",
                                          [.textArray([expected[0], expected[19]])])
        XCTAssertEqual(try Self.extremities(connection.query(RoomStore.templateContextSQL, parameters)), expected)
        await pool.close()
    }

    /// The table churns (every leave deletes an extremity row and inserts one), so its indexes keep
    /// their high-water pages while few rows live: by its statistics an index probe then costs more
    /// than reading the whole heap, and a plan made from them scans the table. Measured on a local
    /// cluster after three 30 s pairs runs: 25 live rows, 97 heap pages, 684 index pages — two
    /// sequential scans of 97 pages per make_leave. Here: 20,000 rows of another room inserted and
    /// deleted before a live one, then VACUUM ANALYZE; a new connection's read scans no table.
    func testAChurnedExtremitiesTableIsStillReadByIndex() async throws {
        let pool = try await StorageFixture.migratedPool(prefix: "churned_extremities")
        let room = try await Self.importedRoom("!churned:resident.test", members: 3, into: RoomStore(pool: pool))
        let churn = try PostgresConnection(url: pool.configuration.url)
        try churn.execute(script: """
            INSERT INTO rooms (room_id, room_version) VALUES ('!churn:resident.test', '10'), ('!gone:resident.test', '10');
            INSERT INTO forward_extremities (room_id, event_id, depth, stream_ordering)
                SELECT CASE WHEN n = 20000 THEN '!churn:resident.test' ELSE '!gone:resident.test' END,
                       '$churn-' || n, n, n FROM generate_series(1, 20000) n;
            DELETE FROM forward_extremities WHERE room_id = '!gone:resident.test';
            """)
        try churn.execute(script: "VACUUM ANALYZE forward_extremities")   // alone: not in a transaction
        _ = try churn.query("""
            PREPARE probe(text, text) AS SELECT event_id FROM forward_extremities WHERE room_id = $1 AND event_id = $2
            """)
        let planned = try churn.query("EXPLAIN EXECUTE probe('!churn:resident.test', '$churn-20000')")
            .rows.compactMap { $0.string(0) }.joined(separator: "\n")
        XCTAssertTrue(planned.contains("Seq Scan"), "the fixture's statistics must favour a sequential scan:\n\(planned)")

        let connection = try PostgresConnection(url: pool.configuration.url)   // generic plans, as the workers'
        _ = try connection.query("BEGIN")
        let read = try Self.extremities(connection.query(
            RoomStore.templateContextSQL, [.text(room.roomID), .textArray(["m.room.create"]), .textArray([""]), .int(20)]))
        let scans = try connection.query("""
            SELECT coalesce(sum(seq_scan), 0) FROM pg_stat_xact_user_tables WHERE relname = 'forward_extremities'
            """).rows.first?.string(0)
        _ = try connection.query("COMMIT")
        XCTAssertEqual(read, [room.lastEventID])
        XCTAssertEqual(scans, "0", "sequential scans of forward_extremities")
        await pool.close()
    }

    /// Only the primary key can serve a lookup of extremities by room and event ID (store_leaves'
    /// DELETE of the cited ones): every other index of the table led by `room_id` is partial, on a
    /// predicate such a lookup does not imply (`sql/0018`). With a plain depth index, a plan made
    /// while the table was small could probe it instead and read the room's every extremity per
    /// leave (94.8 million index entries in a 96,000-leave run).
    func testOnlyThePrimaryKeyServesALookupByRoomAndEventID() async throws {
        let pool = try await StorageFixture.migratedPool(prefix: "extremity_indexes")
        let usable = try await StorageFixture.rows(pool, """
            SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
            JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
            WHERE i.indrelid = 'forward_extremities'::regclass AND a.attname = 'room_id' AND i.indpred IS NULL
            ORDER BY 1
            """)
        XCTAssertEqual(usable, [["forward_extremities_pkey"]])
        await pool.close()
    }

    /// A new extremity's row carries its event's depth and stream position, whichever writer
    /// inserted it (`import_room` above, `store_leaves` here).
    func testEveryExtremityCarriesItsEventsDepthAndStreamPosition() async throws {
        let pool = try await StorageFixture.migratedPool(prefix: "extremity_columns")
        let room = try await Self.importedRoom("!columns:resident.test", members: 3, into: RoomStore(pool: pool))
        _ = try await StorageFixture.rows(pool, Self.staleLeaves, [.text(room.roomID), .text(room.events[1].eventID)])
        let mismatched = try await StorageFixture.rows(pool, """
            SELECT f.event_id, f.depth, f.stream_ordering FROM forward_extremities f
            LEFT JOIN events e USING (room_id, event_id)
            WHERE f.depth IS DISTINCT FROM e.depth OR f.stream_ordering IS DISTINCT FROM e.stream_ordering
            """)
        XCTAssertEqual(mismatched, [])
        let count = try await StorageFixture.rows(pool, "SELECT count(*) FROM forward_extremities WHERE room_id = $1", [.text(room.roomID)])
        XCTAssertEqual(count, [["4"]], "the import's tip and the three leaves")
        await pool.close()
    }

    /// Several make_leaves' template reads in one statement (`TemplateContextReader.manySQL`, as
    /// `TemplateContextReads` shares them under load) answer each exactly as its own statement
    /// would: a room of 31 extremities and one of one, limits 20, 1 and 0, state entries present and
    /// missing, a room not held — and the answers are checked themselves (the deepest 20 in order),
    /// so that two equally wrong statements fail.
    func testTemplateReadsTogetherEqualEachReadAlone() async throws {
        let pool = try await StorageFixture.migratedPool(prefix: "template_many")
        let store = RoomStore(pool: pool)
        let wide = try await Self.importedRoom("!wide:resident.test", members: 30, into: store)
        let narrow = try await Self.importedRoom("!narrow:resident.test", members: 2, into: store)
        let stored = try await StorageFixture.rows(pool, Self.staleLeaves, [.text(wide.roomID), .text(wide.events[1].eventID)])
        XCTAssertEqual(stored, [["30"]])
        let deepest = try await StorageFixture.rows(pool, """
            SELECT f.event_id FROM forward_extremities f JOIN events e USING (room_id, event_id)
            WHERE f.room_id = $1 ORDER BY e.depth DESC, e.stream_ordering DESC LIMIT 20
            """, [.text(wide.roomID)]).map { $0[0] }
        XCTAssertEqual(deepest.count, 20)

        let keys = { (user: String) in
            [("m.room.create", ""), ("m.room.power_levels", ""), ("m.room.member", user)].map { (type: $0.0, stateKey: $0.1) }
        }
        let requests = [
            TemplateContextRequest(roomID: wide.roomID, stateKeys: keys("@m1:remote.test"), extremityLimit: 20),
            TemplateContextRequest(roomID: narrow.roomID, stateKeys: keys("@m0:remote.test"), extremityLimit: 20),
            TemplateContextRequest(roomID: wide.roomID, stateKeys: keys("@nobody:remote.test"), extremityLimit: 1),
            TemplateContextRequest(roomID: narrow.roomID, stateKeys: keys("@m1:remote.test"), extremityLimit: 0),
            TemplateContextRequest(roomID: "!nowhere:resident.test", stateKeys: keys("@m0:remote.test"), extremityLimit: 20),
        ]
        let reader = TemplateContextReader(pool: pool)
        let together = try await reader.read(requests)
        XCTAssertEqual(together.count, requests.count)
        for (request, batched) in zip(requests, together) {
            let alone = try await reader.read(request)
            XCTAssertEqual(batched.state.map(\.eventID).sorted(), alone.state.map(\.eventID).sorted(), request.roomID)
            XCTAssertEqual(batched.extremities.map(\.eventID), alone.extremities.map(\.eventID), request.roomID)
        }
        XCTAssertEqual(together[0].extremities.map(\.eventID), deepest)
        XCTAssertEqual(together[0].state.map(\.eventID).sorted(),
                       ["$create-!wide:resident.test", "$stale-@m1:remote.test!wide:resident.test"])
        XCTAssertEqual(together[1].extremities.map(\.eventID), [narrow.lastEventID])
        XCTAssertEqual(together[2].extremities.map(\.eventID), [deepest[0]])
        XCTAssertEqual(together[2].state.map(\.eventID), ["$create-!wide:resident.test"], "no member event for @nobody")
        XCTAssertEqual(together[3].extremities.map(\.eventID), [])
        XCTAssertEqual(together[3].state.count, 2)
        XCTAssertEqual(together[4].state.count + together[4].extremities.count, 0)
        await pool.close()
    }

    /// Room `roomID` with members `@m0…:remote.test`, imported into `store`.
    private static func importedRoom(_ roomID: String, members: Int, into store: RoomStore) async throws -> RoomBuilder {
        var room = RoomBuilder(roomID: roomID)
        for index in 0..<members { room.join("@m\(index):remote.test") }
        _ = try await store.importRoom(roomID: room.roomID, version: room.version, events: room.events, state: room.stateRecords)
        return room
    }

    /// The event IDs of the rows tagged `'x'`, in order.
    private static func extremities(_ result: PostgresResult) throws -> [String] {
        result.rows.filter { $0.string(0) == "x" }.compactMap { $0.string(1) }
    }

    /// Leaves of the room's members `@m<i>:remote.test` (as many as joined), in one `store_leaves`
    /// batch, all citing event $2, at depths 1000–1006; answers how many were stored.
    private static let staleLeaves = """
        SELECT count(*) FILTER (WHERE outcome = 'stored') FROM store_leaves((
            SELECT json_agg(json_build_object(
                'room_id', m.room_id, 'event_id', '$stale-' || m.user_id || m.room_id, 'type', 'm.room.member',
                'state_key', m.user_id, 'sender', m.user_id, 'depth', 1000 + n % 7, 'origin_server_ts', 1700000000000 + n,
                'membership', 'leave', 'prev_events', ARRAY[$2::text], 'auth_events', ARRAY[$2::text], 'pdu', '{}',
                'expected_membership', 'join') ORDER BY n)
            FROM (SELECT room_id, user_id, row_number() OVER (ORDER BY user_id) AS n FROM memberships
                  WHERE room_id = $1 AND user_id LIKE '@m%') m))
        """
}
