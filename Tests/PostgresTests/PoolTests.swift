import Postgres
import TestSupport
import XCTest

/// Borrowing, bounded waiting, concurrency, health and closing of the pool.
final class PoolTests: DatabaseTestCase {
    override class var databasePrefix: String { "pool" }

    func testExhaustedPoolFailsWithinTheConfiguredWait() async throws {
        let pool = PostgresPool(configuration: PostgresConfiguration(url: url, poolSize: 1, acquireTimeout: .milliseconds(200)))
        let longBorrower = await occupyConnection(of: pool, seconds: 1.5)
        XCTAssertEqual(pool.statistics.inUse, 1)

        let clock = ContinuousClock()
        let start = clock.now
        do {
            _ = try await pool.withConnection { try $0.query("SELECT 1").rowCount }
            XCTFail("the second borrower must not get a connection")
        } catch let error as PostgresError {
            XCTAssertEqual(error.kind, .poolExhausted)
            XCTAssertTrue(error.isTransient)
        }
        let waited = clock.now - start
        XCTAssertGreaterThanOrEqual(waited, .milliseconds(200))
        XCTAssertLessThan(waited, .milliseconds(1_000))
        XCTAssertEqual(pool.statistics.waiting, 0, "the timed-out waiter left the queue")

        let longResult = try await longBorrower.value
        XCTAssertEqual(longResult, 1)
        let afterwards = try await pool.withConnection { try $0.query("SELECT 2")[0].int64(0) }
        XCTAssertEqual(afterwards, 2)
        await pool.close()
    }

    func testStaggeredWaitersEachWaitTheirOwnTimeoutAndALaterOneIsServed() async throws {
        let pool = PostgresPool(configuration: PostgresConfiguration(url: url, poolSize: 1, acquireTimeout: .milliseconds(500)))
        let holder = await occupyConnection(of: pool, seconds: 1.5)
        let clock = ContinuousClock()
        func borrower(after delay: Duration) -> Task<(Duration, PostgresError.Kind?), Never> {
            Task {
                try? await Task.sleep(for: delay)
                let start = clock.now
                do {
                    _ = try await pool.withConnection { try $0.query("SELECT 1").rowCount }
                    return (clock.now - start, nil)
                } catch {
                    return (clock.now - start, (error as? PostgresError)?.kind)
                }
            }
        }
        let first = borrower(after: .zero)
        let second = borrower(after: .milliseconds(250))
        let served = borrower(after: .milliseconds(1_200))

        for waiter in [first, second] {
            let (waited, failure) = await waiter.value
            XCTAssertEqual(failure, .poolExhausted)
            XCTAssertGreaterThanOrEqual(waited, .milliseconds(500))
            XCTAssertLessThan(waited, .milliseconds(1_100))
        }
        let (_, servedFailure) = await served.value
        XCTAssertNil(servedFailure, "a waiter still within its timeout gets the connection when it is returned")
        _ = try await holder.value
        XCTAssertEqual(pool.statistics.waiting, 0)
        await pool.close()
    }

    func testHundredConcurrentBorrowersShareFourConnections() async throws {
        let pool = PostgresPool(configuration: PostgresConfiguration(url: url, poolSize: 4, acquireTimeout: .seconds(30)))
        let results = try await withThrowingTaskGroup(of: (Int, Int64?, Int32?).self) { group in
            for number in 0..<100 {
                group.addTask {
                    try await pool.withConnection { connection in
                        let row = try connection.query("SELECT $1::int8 * 2, pg_backend_pid(), pg_sleep(0.01)", [.int(Int64(number))])[0]
                        return (number, row.int64(0), row.int64(1).map { Int32(truncatingIfNeeded: $0) })
                    }
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        XCTAssertEqual(results.count, 100)
        for (number, doubled, _) in results { XCTAssertEqual(doubled, Int64(number * 2)) }
        let backends = Set(results.compactMap(\.2))
        XCTAssertGreaterThan(backends.count, 1)
        XCTAssertLessThanOrEqual(backends.count, 4)
        let statistics = pool.statistics
        XCTAssertEqual(statistics.size, 4)
        XCTAssertEqual(statistics.inUse, 0)
        XCTAssertEqual(statistics.idle, 4)
        XCTAssertEqual(statistics.waiting, 0)
        XCTAssertEqual(statistics.open, backends.count)
        await pool.close()
    }

    func testBorrowersOnDifferentConnectionsRunInParallel() async throws {
        let pool = PostgresPool(configuration: PostgresConfiguration(url: url, poolSize: 8))
        try await withThrowingTaskGroup(of: Void.self) { group in   // connect first, so only the queries are timed
            for _ in 0..<8 { group.addTask { _ = try await pool.withConnection { try $0.query("SELECT pg_sleep(0.05)") } } }
            try await group.waitForAll()
        }
        let clock = ContinuousClock()
        let start = clock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<8 { group.addTask { _ = try await pool.withConnection { try $0.query("SELECT pg_sleep(0.5)") } } }
            try await group.waitForAll()
        }
        XCTAssertLessThan(clock.now - start, .milliseconds(1_500), "eight 0.5 s queries on eight connections overlap")
        await pool.close()
    }

    func testRacingTimeoutsHandoffsAndCancellationsResumeEveryBorrowerOnce() async throws {
        let pool = PostgresPool(configuration: PostgresConfiguration(url: url, poolSize: 2, acquireTimeout: .milliseconds(40)))
        let borrowers = (0..<300).map { _ in
            Task { () -> String in
                do {
                    _ = try await pool.withConnection { try $0.query("SELECT pg_sleep(0.002)") }
                    return "served"
                } catch let error as PostgresError {
                    return "\(error.kind)"
                } catch is CancellationError {
                    return "cancelled"
                } catch {
                    return "unexpected \(error)"
                }
            }
        }
        for (number, borrower) in borrowers.enumerated() where number % 7 == 0 { borrower.cancel() }
        var outcomes: [String: Int] = [:]
        for borrower in borrowers { outcomes[await borrower.value, default: 0] += 1 }

        XCTAssertEqual(outcomes.values.reduce(0, +), 300)
        XCTAssertEqual(Set(outcomes.keys).subtracting(["served", "poolExhausted", "cancelled"]), [], "\(outcomes)")
        XCTAssertGreaterThan(outcomes["served", default: 0], 0)
        XCTAssertGreaterThan(outcomes["poolExhausted", default: 0], 0, "\(outcomes)")
        let statistics = pool.statistics
        XCTAssertEqual(statistics.inUse, 0)
        XCTAssertEqual(statistics.waiting, 0)
        await pool.close()
    }

    func testConnectionsOpenLazilyAndWarmOnesAreReused() async throws {
        let pool = PostgresPool(configuration: PostgresConfiguration(url: url, poolSize: 4))
        XCTAssertEqual(pool.statistics.open, 0)
        var backends = Set<Int32>()
        for _ in 0..<5 { backends.insert(try await pool.withConnection { $0.backendProcessID }) }
        XCTAssertEqual(backends.count, 1)
        XCTAssertEqual(pool.statistics.open, 1)
        await pool.close()
    }

    func testErrorsThrownByTheBodyReachTheCallerAndTransactionsLeftOpenAreRolledBack() async throws {
        let pool = PostgresPool(configuration: PostgresConfiguration(url: url, poolSize: 1))
        try await pool.withConnection { try $0.execute(script: "CREATE TABLE marks (n int8)") }
        do {
            try await pool.withConnection { connection in
                try connection.execute(script: "BEGIN; INSERT INTO marks VALUES (1);")
                _ = try connection.query("SELECT * FROM no_such_table")
            }
            XCTFail("expected the query error")
        } catch let error as PostgresError {
            XCTAssertEqual(error.sqlState, "42P01")
        }
        let rows = try await pool.withConnection { try $0.query("SELECT count(*) FROM marks")[0].int64(0) }
        XCTAssertEqual(rows, 0)
        await pool.close()
    }

    func testHealthyWhenTheServerAnswers() async throws {
        let pool = PostgresPool(configuration: PostgresConfiguration(url: url, poolSize: 2))
        let healthy = await pool.isHealthy(timeout: .seconds(5))
        XCTAssertTrue(healthy)
        await pool.close()
    }

    func testUnhealthyWithinTheTimeoutWhenTheServerIsUnreachable() async throws {
        let closedPort = try Self.unusedLoopbackPort()
        let pool = PostgresPool(configuration: PostgresConfiguration(
            url: "postgresql://postgres@127.0.0.1:\(closedPort)/postgres", poolSize: 2))
        let clock = ContinuousClock()
        let start = clock.now
        let healthy = await pool.isHealthy(timeout: .seconds(1))
        XCTAssertFalse(healthy)
        XCTAssertLessThan(clock.now - start, .milliseconds(1_500))
        do {
            _ = try await pool.withConnection { try $0.query("SELECT 1").rowCount }
            XCTFail("no server to connect to")
        } catch let error as PostgresError {
            XCTAssertEqual(error.kind, .connectionFailed)
            XCTAssertTrue(error.isTransient)
        }
        await pool.close()
    }

    func testHealthyWhileEveryPooledConnectionIsBusy() async throws {
        let pool = PostgresPool(configuration: PostgresConfiguration(url: url, poolSize: 1, acquireTimeout: .seconds(5)))
        let busy = await occupyConnection(of: pool, seconds: 1)
        XCTAssertEqual(pool.statistics.inUse, 1)
        let healthy = await pool.isHealthy(timeout: .milliseconds(500))
        XCTAssertTrue(healthy, "a busy pool is not an unready database")
        _ = try await busy.value
        await pool.close()
        let afterClose = await pool.isHealthy(timeout: .milliseconds(500))
        XCTAssertFalse(afterClose)
    }

    func testClosedPoolRefusesBorrowersAndFailsWaiters() async throws {
        let pool = PostgresPool(configuration: PostgresConfiguration(url: url, poolSize: 1, acquireTimeout: .seconds(10)))
        let busy = await occupyConnection(of: pool, seconds: 0.5)
        let waiter = Task { try await pool.withConnection { try $0.query("SELECT 1").rowCount } }
        while pool.statistics.waiting == 0 { try await Task.sleep(for: .milliseconds(5)) }

        await pool.close()
        let busyResult = try await busy.value
        XCTAssertEqual(busyResult, 1, "close waits for the borrowed connection to come back")
        await XCTAssertPoolError(.poolClosed) { _ = try await waiter.value }
        await XCTAssertPoolError(.poolClosed) { _ = try await pool.withConnection { try $0.query("SELECT 1").rowCount } }
        XCTAssertEqual(pool.statistics.open, 0)
    }

    func testCancelledWaiterLeavesTheQueue() async throws {
        let pool = PostgresPool(configuration: PostgresConfiguration(url: url, poolSize: 1, acquireTimeout: .seconds(10)))
        let busy = await occupyConnection(of: pool, seconds: 0.5)
        let waiter = Task { try await pool.withConnection { try $0.query("SELECT 1").rowCount } }
        while pool.statistics.waiting == 0 { try await Task.sleep(for: .milliseconds(5)) }
        waiter.cancel()
        do {
            _ = try await waiter.value
            XCTFail("a cancelled waiter must not get a connection")
        } catch {
            XCTAssertTrue(error is CancellationError, "\(error)")
        }
        XCTAssertEqual(pool.statistics.waiting, 0)
        _ = try await busy.value
        let afterwards = try await pool.withConnection { try $0.query("SELECT 3")[0].int64(0) }
        XCTAssertEqual(afterwards, 3)
        await pool.close()
    }

    /// A loopback port nothing listens on (bound, then released).
    static func unusedLoopbackPort() throws -> Int {
        let probe = Process()
        probe.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        probe.arguments = ["python3", "-c", "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1]); s.close()"]
        let output = Pipe()
        probe.standardOutput = output
        try probe.run()
        probe.waitUntilExit()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        return try XCTUnwrap(Int(text.trimmingCharacters(in: .whitespacesAndNewlines)))
    }
}

/// Asserts that `body` throws a `PostgresError` of `kind`.
func XCTAssertPoolError(_ kind: PostgresError.Kind, file: StaticString = #filePath, line: UInt = #line,
                        _ body: () async throws -> Void) async {
    do {
        try await body()
        XCTFail("expected PostgresError(\(kind))", file: file, line: line)
    } catch let error as PostgresError {
        XCTAssertEqual(error.kind, kind, "\(error)", file: file, line: line)
    } catch {
        XCTFail("unexpected \(error)", file: file, line: line)
    }
}
