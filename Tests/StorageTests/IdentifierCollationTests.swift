import Postgres
import Storage
import TestSupport
import XCTest

/// Keyed identifiers compare byte for byte, whatever collation the database was created with
/// (`sql/0019`): their indexes use the "C" collation, and the workers' text values — of the
/// default collation — still find them.
final class IdentifierCollationTests: XCTestCase {
    /// Every text column of every index on the project's tables (but the migrations' own record) is
    /// indexed under "C".
    func testEveryIndexedTextColumnIsCollatedC() async throws {
        let pool = try await StorageFixture.migratedPool(prefix: "collation")
        let other = try await StorageFixture.rows(pool, """
            SELECT DISTINCT c.relname || '.' || a.attname || ' ' || k.coll::regcollation::text
            FROM pg_index i
            JOIN pg_class c ON c.oid = i.indrelid
            JOIN pg_namespace n ON n.oid = c.relnamespace
            CROSS JOIN LATERAL unnest(i.indkey::int2[], i.indcollation::oid[]) AS k(attnum, coll)
            JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
            WHERE n.nspname = 'public' AND c.relname <> 'schema_migrations'
              AND k.coll <> 0 AND k.coll <> '"C"'::regcollation
            ORDER BY 1
            """)
        XCTAssertEqual(other, [], "indexed text columns not collated \"C\"")
        await pool.close()
    }

    /// A value of the database's default collation compared with a "C" key column takes the
    /// column's collation, so the lookup is an index probe (with sequential scans priced out, a
    /// lookup the index cannot serve would show as a Seq Scan).
    func testDefaultCollatedValuesStillProbeTheKeys() async throws {
        let pool = try await StorageFixture.migratedPool(prefix: "collation_probe")
        let lookups = [
            "SELECT pdu FROM events WHERE event_id = '$e'::text",
            "SELECT pdu FROM events WHERE room_id = '!r:x'::text AND event_id = '$e'::text",
            "SELECT event_id FROM current_state WHERE room_id = '!r:x'::text AND type = 'm.room.member'::text AND state_key = '@u:x'::text",
            "SELECT membership FROM memberships WHERE room_id = '!r:x'::text AND user_id = ANY (ARRAY['@u:x', '@v:y']::text[])",
            "SELECT room_id FROM room_joined_servers WHERE server_name = user_server('@u:x')",
            "SELECT stream_position FROM destinations WHERE destination = 'x'::text",
        ]
        let plans = try await pool.withConnection { connection in
            _ = try connection.query("SET enable_seqscan = off")
            defer { _ = try? connection.query("RESET enable_seqscan") }
            return try lookups.map { lookup in
                try connection.query("EXPLAIN (COSTS OFF) " + lookup).rows.compactMap { $0.string(0) }.joined(separator: " / ")
            }
        }
        for (lookup, plan) in zip(lookups, plans) {
            XCTAssertTrue(plan.contains("Index"), "\(lookup): \(plan)")
            XCTAssertFalse(plan.contains("Seq Scan"), "\(lookup): \(plan)")
        }
        await pool.close()
    }
}
