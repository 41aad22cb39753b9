import Postgres
import TestSupport
import XCTest

/// Statements are prepared once per connection and SQL text, then reused.
final class PreparedStatementTests: DatabaseTestCase {
    override class var databasePrefix: String { "prepared" }

    private func serverSideStatements(_ connection: PostgresConnection, matching pattern: String) throws -> Int64? {
        try connection.query("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE $1", [.text(pattern)])[0].int64(0)
    }

    func testStatementIsPreparedOnceAndReused() throws {
        let connection = try PostgresConnection(url: url)
        for number in 0..<20 {
            XCTAssertEqual(try connection.query("SELECT $1 + 1 AS reused", [.int(Int64(number))])[0].int64(0), Int64(number + 1))
        }
        XCTAssertEqual(connection.preparedStatementCount, 1)
        XCTAssertEqual(try serverSideStatements(connection, matching: "%AS reused%"), 1)
        XCTAssertEqual(connection.preparedStatementCount, 2, "the check's own statement is the second one")
    }

    func testStatementDeallocatedBehindOurBackIsPreparedAgain() throws {
        let connection = try PostgresConnection(url: url)
        XCTAssertEqual(try connection.query("SELECT $1::text", [.text("before")])[0].string(0), "before")
        try connection.execute(script: "DEALLOCATE ALL")
        XCTAssertEqual(try connection.query("SELECT $1::text", [.text("after")])[0].string(0), "after")
        XCTAssertEqual(connection.preparedStatementCount, 1)
    }

    /// A migration in another session (sql/0019 changed identifier columns' collation) changes a
    /// cached statement's result type: the server refuses the old plan with 0A000 on every run.
    func testStatementWhoseResultTypeChangedUnderItIsPreparedAgain() throws {
        let connection = try PostgresConnection(url: url)
        try connection.execute(script: "CREATE TABLE t (c text); INSERT INTO t VALUES ('x')")
        XCTAssertEqual(try connection.query("SELECT c FROM t")[0].string(0), "x")
        try PostgresConnection(url: url).execute(script: #"ALTER TABLE t ALTER COLUMN c TYPE text COLLATE "C""#)
        XCTAssertEqual(try connection.query("SELECT c FROM t")[0].string(0), "x")
        XCTAssertEqual(try serverSideStatements(connection, matching: "SELECT c FROM t"), 1, "the old one deallocated")

        try PostgresConnection(url: url).execute(script: "ALTER TABLE t ALTER COLUMN c TYPE varchar(10)")
        XCTAssertThrowsError(try connection.transaction { try $0.query("SELECT c FROM t") }) { error in
            XCTAssertEqual((error as? PostgresError)?.sqlState, "0A000", "inside a transaction: refused once")
        }
        XCTAssertEqual(try connection.transaction { try $0.query("SELECT c FROM t")[0].string(0) }, "x")
    }

    func testFullCacheIsResetOnClientAndServer() throws {
        let connection = try PostgresConnection(url: url, statementCacheCapacity: 3)
        for number in 0..<7 {
            XCTAssertEqual(try connection.query("SELECT \(number) AS capped")[0].int64(0), Int64(number))
        }
        XCTAssertLessThanOrEqual(connection.preparedStatementCount, 3)
        let onServer = try XCTUnwrap(try serverSideStatements(connection, matching: "%AS capped%"))
        XCTAssertEqual(onServer, Int64(connection.preparedStatementCount) - 1, "server and cache agree")
    }

    func testFreshConnectionStartsWithAnEmptyCache() throws {
        let first = try PostgresConnection(url: url)
        _ = try first.query("SELECT 1")
        let second = try PostgresConnection(url: url)
        XCTAssertEqual(second.preparedStatementCount, 0)
        XCTAssertEqual(try second.query("SELECT 1")[0].int64(0), 1)
    }

    func testBehindATransactionPoolerStatementsRunUnnamedAndNoOptionsAreSent() throws {
        let connection = try PostgresConnection(url: url, parameters: [("lock_timeout", "250")], transactionPooled: true)
        for number in 0..<3 {
            XCTAssertEqual(try connection.query("SELECT $1::int8 + 1 AS unnamed", [.int(Int64(number))])[0].int64(0), Int64(number + 1))
        }
        XCTAssertEqual(connection.preparedStatementCount, 0)
        XCTAssertEqual(try serverSideStatements(connection, matching: "%"), 0, "nothing prepared on the server")
        XCTAssertEqual(try connection.query("SHOW plan_cache_mode")[0].string(0), "auto", "no startup options: the role's settings")
        XCTAssertEqual(try connection.query("SHOW lock_timeout")[0].string(0), "0")
    }
}
