import Postgres
import TestSupport
import XCTest

/// The pool survives a server restart and killed backends without being recreated.
final class RecoveryTests: DatabaseTestCase {
    override class var databasePrefix: String { "recovery" }

    private func backendPIDs(_ pool: PostgresPool, borrowers: Int) async throws -> Set<Int32> {
        try await withThrowingTaskGroup(of: Int32.self) { group in
            for _ in 0..<borrowers {
                group.addTask {
                    try await pool.withConnection { connection in
                        _ = try connection.query("SELECT pg_sleep(0.05)")
                        return connection.backendProcessID
                    }
                }
            }
            return try await group.reduce(into: []) { $0.insert($1) }
        }
    }

    func testServerRestartIsSurvivedWithoutRecreatingThePool() async throws {
        let pool = PostgresPool(configuration: PostgresConfiguration(url: url, poolSize: 3))
        let before = try await backendPIDs(pool, borrowers: 6)
        XCTAssertEqual(pool.statistics.open, before.count)

        try TestDatabase.restartServer()

        let after = try await backendPIDs(pool, borrowers: 6)
        XCTAssertTrue(before.isDisjoint(with: after), "every connection was replaced")
        for number: Int64 in 0..<10 {
            let value = try await pool.withConnection { try $0.query("SELECT $1::int8 + 1", [.int(number)])[0].int64(0) }
            XCTAssertEqual(value, number + 1)
        }
        let healthy = await pool.isHealthy(timeout: .seconds(5))
        XCTAssertTrue(healthy)
        await pool.close()
    }

    func testQueryOnAKilledBackendFailsTransientlyAndTheNextCallSucceeds() async throws {
        let pool = PostgresPool(configuration: PostgresConfiguration(url: url, poolSize: 1))
        let victim = try await pool.withConnection { $0.backendProcessID }
        let killer = try PostgresConnection(url: url)

        let running = await occupyConnection(of: pool, seconds: 10)
        try waitUntilActive(victim, on: killer)
        XCTAssertEqual(try killer.query("SELECT pg_terminate_backend($1::int4)", [.int(Int64(victim))])[0].bool(0), true)

        do {
            _ = try await running.value
            XCTFail("the killed backend's query must fail")
        } catch let error as PostgresError {
            XCTAssertTrue(error.isTransient, "\(error)")
            XCTAssertEqual(error.kind, .connectionLost, "\(error)")
        }
        let next = try await pool.withConnection { connection in
            (try connection.query("SELECT 1")[0].int64(0), connection.backendProcessID)
        }
        XCTAssertEqual(next.0, 1)
        XCTAssertNotEqual(next.1, victim)
        await pool.close()
    }

    func testIdleConnectionKilledByTheServerIsReplacedBeforeUse() async throws {
        let pool = PostgresPool(configuration: PostgresConfiguration(url: url, poolSize: 1))
        let victim = try await pool.withConnection { $0.backendProcessID }
        let killer = try PostgresConnection(url: url)
        _ = try killer.query("SELECT pg_terminate_backend($1::int4)", [.int(Int64(victim))])
        try waitUntilGone(victim, on: killer)

        let replacement = try await pool.withConnection { connection in
            (try connection.query("SELECT 1")[0].int64(0), connection.backendProcessID)
        }
        XCTAssertEqual(replacement.0, 1)
        XCTAssertNotEqual(replacement.1, victim)
        await pool.close()
    }

    private func waitUntilActive(_ pid: Int32, on connection: PostgresConnection) throws {
        try poll(on: connection, "SELECT count(*) FROM pg_stat_activity WHERE pid = $1::int4 AND state = 'active'", pid, until: 1)
    }

    private func waitUntilGone(_ pid: Int32, on connection: PostgresConnection) throws {
        try poll(on: connection, "SELECT count(*) FROM pg_stat_activity WHERE pid = $1::int4", pid, until: 0)
    }

    private func poll(on connection: PostgresConnection, _ sql: String, _ pid: Int32, until expected: Int64) throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while try connection.query(sql, [.int(Int64(pid))])[0].int64(0) != expected {
            guard ContinuousClock.now < deadline else { return XCTFail("backend \(pid) never reached the expected state") }
            Thread.sleep(forTimeInterval: 0.01)
        }
    }
}
