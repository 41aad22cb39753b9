import Postgres
import Synchronization
import TestSupport
import WorkDeadline
import XCTest

/// Within a request's deadline (`DeadlineScope`), a borrower gives up at the deadline wherever it
/// is — in line for a connection, or with its statement still running — and a borrow that starts
/// after the deadline does not run at all; the pool stays whole.
final class PoolDeadlineTests: DatabaseTestCase {
    override class var databasePrefix: String { "pooldeadline" }

    func testABorrowerInLineLeavesItAtTheDeadline() async throws {
        let pool = PostgresPool(configuration: PostgresConfiguration(url: url, poolSize: 1, acquireTimeout: .seconds(30)))
        let busy = await occupyConnection(of: pool, seconds: 1.5)
        let scope = DeadlineScope(deadline: .now + .seconds(30))
        let waiter = Task {
            try await DeadlineScope.$current.withValue(scope) { try await pool.withConnection { try $0.query("SELECT 1").rowCount } }
        }
        while pool.statistics.waiting == 0 { try await Task.sleep(for: .milliseconds(5)) }
        scope.expire()
        await XCTAssertDeadlineExceeded { _ = try await waiter.value }
        XCTAssertEqual(pool.statistics.waiting, 0, "the waiter left the line")
        _ = try await busy.value
        let afterwards = try await pool.withConnection { try $0.query("SELECT 4")[0].int64(0) }
        XCTAssertEqual(afterwards, 4)
        await pool.close()
    }

    func testABorrowerWhoseStatementOutlivesTheDeadlineIsAnsweredWhileItFinishes() async throws {
        let pool = PostgresPool(configuration: PostgresConfiguration(url: url, poolSize: 1, acquireTimeout: .seconds(30)))
        let scope = DeadlineScope(deadline: .now + .seconds(30))
        let started = Atomic<Bool>(false)
        let borrower = Task {
            try await DeadlineScope.$current.withValue(scope) {
                try await pool.withConnection { connection in
                    started.store(true, ordering: .relaxed)
                    return try connection.query("SELECT pg_sleep(2)").rowCount
                }
            }
        }
        while !started.load(ordering: .relaxed) { try await Task.sleep(for: .milliseconds(5)) }
        scope.expire()
        await XCTAssertDeadlineExceeded { _ = try await borrower.value }
        XCTAssertEqual(pool.statistics.inUse, 1, "answered before the statement finished")
        // The statement finishes on its queue and the connection comes back.
        let next = try await pool.withConnection { try $0.query("SELECT 5")[0].int64(0) }
        XCTAssertEqual(next, 5)
        XCTAssertEqual(pool.statistics.inUse, 0)
        await pool.close()
    }

    func testABorrowAfterTheDeadlineDoesNotRun() async throws {
        let pool = PostgresPool(configuration: PostgresConfiguration(url: url, poolSize: 1, acquireTimeout: .seconds(30)))
        let scope = DeadlineScope(deadline: .now)
        scope.expire()
        let ran = Atomic<Bool>(false)
        await XCTAssertDeadlineExceeded {
            _ = try await DeadlineScope.$current.withValue(scope) {
                try await pool.withConnection { _ in ran.store(true, ordering: .relaxed) }
            }
        }
        XCTAssertFalse(ran.load(ordering: .relaxed))
        XCTAssertEqual(pool.statistics.inUse, 0)
        await pool.close()
    }
}

/// Asserts that `body` throws `DeadlineExceeded`.
func XCTAssertDeadlineExceeded(file: StaticString = #filePath, line: UInt = #line, _ body: () async throws -> Void) async {
    do {
        try await body()
        XCTFail("expected DeadlineExceeded", file: file, line: line)
    } catch {
        XCTAssertTrue(error is DeadlineExceeded, "\(error)", file: file, line: line)
    }
}
