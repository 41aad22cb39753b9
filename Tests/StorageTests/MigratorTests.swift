import Foundation
import Postgres
import Storage
import TestSupport
import XCTest

/// Migrations from empty, again, from several processes at once; edited and failing migrations.
final class MigratorTests: XCTestCase {
    private func pool(_ url: String) -> PostgresPool {
        PostgresPool(configuration: PostgresConfiguration(url: url, poolSize: 1, acquireTimeout: .seconds(30)))
    }

    private func tables(_ pool: PostgresPool) async throws -> [String] {
        try await StorageFixture.rows(pool, """
            SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1
            """).map { $0[0] }
    }

    func testMigratesAnEmptyDatabaseThenHasNothingPending() async throws {
        let migrator = try Migrator(directory: StorageFixture.sqlDirectory)
        let names = migrator.migrations.map(\.name)
        XCTAssertEqual(names, names.sorted())
        XCTAssertEqual(names.first, "0001_rooms_and_events")
        let pool = pool(try TestDatabase.create(prefix: "migrate_empty"))

        let pendingBefore = try await migrator.pending(pool: pool)
        XCTAssertEqual(pendingBefore, names)
        let applied = try await migrator.migrate(pool: pool)
        XCTAssertEqual(applied, names)
        let pendingAfter = try await migrator.pending(pool: pool)
        XCTAssertEqual(pendingAfter, [])
        let tables = try await tables(pool)
        for table in ["rooms", "events", "current_state", "memberships", "forward_extremities", "room_joined_servers",
                      "server_keys", "destinations", "schema_migrations"] {
            XCTAssertTrue(tables.contains(table), "missing table \(table) in \(tables)")
        }
        await pool.close()
    }

    /// The timeouts deploy/README.md has operators set on the workers' role (or database) bound the
    /// workers' statements, not the migrations: a migration that rewrites a table of a populated
    /// database outlasts them. Here 1 ms: before, the first migration's statements were cancelled.
    func testTheRolesStatementAndLockTimeoutsDoNotCutAMigrationShort() async throws {
        let url = try TestDatabase.create(prefix: "migrate_timeouts")
        let admin = pool(url)
        let database = try await StorageFixture.rows(admin, "SELECT current_database()")[0][0]
        _ = try await StorageFixture.rows(admin, "ALTER DATABASE \(database) SET statement_timeout = '1ms'")
        _ = try await StorageFixture.rows(admin, "ALTER DATABASE \(database) SET lock_timeout = '1ms'")
        await admin.close()

        let pool = pool(url)
        let migrator = try Migrator(directory: StorageFixture.sqlDirectory)
        let applied = try await migrator.migrate(pool: pool)
        XCTAssertEqual(applied, migrator.migrations.map(\.name))
        let timeout = try await StorageFixture.rows(pool, "SHOW statement_timeout")
        XCTAssertEqual(timeout, [["1ms"]], "the session's own setting is back once migrate is done")
        await pool.close()
    }

    func testSecondRunAppliesNothingAndChangesNothing() async throws {
        let migrator = try Migrator(directory: StorageFixture.sqlDirectory)
        let pool = pool(try TestDatabase.create(prefix: "migrate_twice"))
        _ = try await migrator.migrate(pool: pool)
        let recorded = try await StorageFixture.rows(pool, "SELECT name, checksum, applied_at FROM schema_migrations ORDER BY 1")
        let again = try await migrator.migrate(pool: pool)
        XCTAssertEqual(again, [])
        let recordedAgain = try await StorageFixture.rows(pool, "SELECT name, checksum, applied_at FROM schema_migrations ORDER BY 1")
        XCTAssertEqual(recordedAgain, recorded)
        await pool.close()
    }

    func testFourConcurrentMigratorsApplyEachMigrationOnce() async throws {
        let url = try TestDatabase.create(prefix: "migrate_concurrent")
        let migrator = try Migrator(directory: StorageFixture.sqlDirectory)
        let pools = (0..<4).map { _ in pool(url) }
        let results = try await withThrowingTaskGroup(of: [String].self) { group in
            for pool in pools { group.addTask { try await migrator.migrate(pool: pool) } }
            return try await group.reduce(into: [[String]]()) { $0.append($1) }
        }
        XCTAssertEqual(results.flatMap { $0 }.sorted(), migrator.migrations.map(\.name),
                       "every migration applied by exactly one migrator: \(results)")
        XCTAssertEqual(results.filter { !$0.isEmpty }.count, 1, "the first migrator to hold the lock applies all")
        let recorded = try await StorageFixture.rows(pools[0], "SELECT count(*) FROM schema_migrations")
        XCTAssertEqual(recorded, [[String(migrator.migrations.count)]])
        for pool in pools { await pool.close() }
    }

    func testAMigrationEditedAfterItWasAppliedIsRefused() async throws {
        let directory = try copyOfMigrations()
        let pool = pool(try TestDatabase.create(prefix: "migrate_edited"))
        _ = try await Migrator(directory: directory).migrate(pool: pool)
        let first = directory.appendingPathComponent("0001_rooms_and_events.sql")
        try (String(contentsOf: first, encoding: .utf8) + "\n-- edited\n").write(to: first, atomically: true, encoding: .utf8)
        let edited = try Migrator(directory: directory)
        await assertThrows(MigrationError.changedAfterApplied("0001_rooms_and_events")) { _ = try await edited.pending(pool: pool) }
        await assertThrows(MigrationError.changedAfterApplied("0001_rooms_and_events")) { _ = try await edited.migrate(pool: pool) }
        await pool.close()
    }

    func testAFailingMigrationLeavesNothingOfItselfAndStopsTheRun() async throws {
        let directory = try copyOfMigrations()
        try "CREATE TABLE half_done (x int);\nSELECT no_such_function();\n"
            .write(to: directory.appendingPathComponent("9000_broken.sql"), atomically: true, encoding: .utf8)
        try "CREATE TABLE after_broken (x int);\n"
            .write(to: directory.appendingPathComponent("9001_after.sql"), atomically: true, encoding: .utf8)
        let pool = pool(try TestDatabase.create(prefix: "migrate_broken"))
        let migrator = try Migrator(directory: directory)
        do {
            _ = try await migrator.migrate(pool: pool)
            XCTFail("a failing migration must throw")
        } catch let error as MigrationError {
            guard case .failed(let name, _) = error else { return XCTFail("unexpected \(error)") }
            XCTAssertEqual(name, "9000_broken")
        }
        let tables = try await tables(pool)
        XCTAssertFalse(tables.contains("half_done"))
        XCTAssertFalse(tables.contains("after_broken"))
        XCTAssertTrue(tables.contains("events"), "migrations before the broken one stay applied")
        let pending = try await migrator.pending(pool: pool)
        XCTAssertEqual(pending, ["9000_broken", "9001_after"])
        await pool.close()
    }

    func testDirectoryProblemsAreTypedErrors() throws {
        let empty = FileManager.default.temporaryDirectory.appendingPathComponent("migrations-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: empty) }
        try "not a migration".write(to: empty.appendingPathComponent("README.md"), atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try Migrator(directory: empty)) { XCTAssertEqual($0 as? MigrationError, .noMigrations(empty.path)) }
        for name in ["0001_a.sql", "01_b.sql"] {
            try "SELECT 1;".write(to: empty.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
        XCTAssertThrowsError(try Migrator(directory: empty)) { XCTAssertEqual($0 as? MigrationError, .duplicateNumber("0001_a", "01_b")) }
        let missing = empty.appendingPathComponent("missing")
        XCTAssertThrowsError(try Migrator(directory: missing)) { XCTAssertEqual($0 as? MigrationError, .unreadableDirectory(missing.path)) }
    }

    private func copyOfMigrations() throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("migrations-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: directory) }
        for name in try FileManager.default.contentsOfDirectory(atPath: StorageFixture.sqlDirectory.path) where name.hasSuffix(".sql") {
            try FileManager.default.copyItem(at: StorageFixture.sqlDirectory.appendingPathComponent(name),
                                             to: directory.appendingPathComponent(name))
        }
        return directory
    }
}
