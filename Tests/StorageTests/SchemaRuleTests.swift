import Postgres
import Storage
import TestSupport
import XCTest

/// The rules the schema itself enforces on stored values (`sql/0001`, as domains since `sql/0023`):
/// a violation is SQLSTATE 23514 and writes nothing.
final class SchemaRuleTests: XCTestCase {
    func testAMembershipOutsideTheFiveIsRefused() async throws {
        let pool = try await StorageFixture.migratedPool(prefix: "schema_rules")
        for membership in ["join", "invite", "leave", "ban", "knock"] {
            _ = try await StorageFixture.rows(pool, "INSERT INTO memberships VALUES ('!r:x', $1, $2, '$e')",
                                              [.text("@\(membership):x"), .text(membership)])
        }
        for membership in ["joined", "Join", "", "leave "] {
            await assertCheckViolation(pool, "INSERT INTO memberships VALUES ('!r:x', '@other:x', $1, '$e')", [.text(membership)])
        }
        await assertCheckViolation(pool, "UPDATE memberships SET membership = 'gone' WHERE user_id = '@join:x'")
        let stored = try await StorageFixture.rows(pool, "SELECT membership FROM memberships ORDER BY 1")
        XCTAssertEqual(stored, [["ban"], ["invite"], ["join"], ["knock"], ["leave"]])
        await pool.close()
    }

    func testAJoinedMemberCountNeverGoesBelowZero() async throws {
        let pool = try await StorageFixture.migratedPool(prefix: "schema_rules_count")
        _ = try await StorageFixture.rows(pool, "INSERT INTO room_joined_servers (room_id, server_name, joined_members) VALUES ('!r:x', 'x', 1)")
        _ = try await StorageFixture.rows(pool, "UPDATE room_joined_servers SET joined_members = joined_members - 1")
        await assertCheckViolation(pool, "UPDATE room_joined_servers SET joined_members = joined_members - 1")
        await assertCheckViolation(pool, "INSERT INTO room_joined_servers (room_id, server_name, joined_members) VALUES ('!r:x', 'y', -5)")
        let stored = try await StorageFixture.rows(pool, "SELECT server_name, joined_members FROM room_joined_servers")
        XCTAssertEqual(stored, [["x", "0"]])
        await pool.close()
    }

    private func assertCheckViolation(_ pool: PostgresPool, _ sql: String, _ parameters: [PostgresValue] = [],
                                      file: StaticString = #filePath, line: UInt = #line) async {
        do {
            _ = try await StorageFixture.rows(pool, sql, parameters)
            XCTFail("accepted: \(sql) \(parameters)", file: file, line: line)
        } catch let error as PostgresError {
            XCTAssertEqual(error.sqlState, "23514", "\(error)", file: file, line: line)
        } catch {
            XCTFail("\(error)", file: file, line: line)
        }
    }
}
