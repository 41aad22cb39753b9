import Postgres
import TestSupport
import XCTest

/// SQLSTATE-carrying errors, scripts, and BEGIN/COMMIT/ROLLBACK around a body.
final class ErrorAndTransactionTests: ConnectionTestCase {
    override class var databasePrefix: String { "errors" }

    override func setUpWithError() throws {
        try super.setUpWithError()
        try connection.execute(script: "CREATE TABLE members (room text, member text, PRIMARY KEY (room, member))")
    }

    private func count() throws -> Int64? {
        try connection.query("SELECT count(*) FROM members")[0].int64(0)
    }

    func testUniqueViolationCarriesSQLState() throws {
        let insert = "INSERT INTO members VALUES ($1, $2)"
        _ = try connection.query(insert, [.text("!r"), .text("@a")])
        XCTAssertThrowsError(try connection.query(insert, [.text("!r"), .text("@a")])) { error in
            let failure = error as? PostgresError
            XCTAssertEqual(failure?.kind, .query)
            XCTAssertEqual(failure?.sqlState, "23505")
            XCTAssertEqual(failure?.isUniqueViolation, true)
            XCTAssertEqual(failure?.isTransient, false)
            XCTAssertTrue(failure?.message.contains("members_pkey") == true, failure?.message ?? "")
        }
        XCTAssertEqual(try connection.query("SELECT 1")[0].int64(0), 1, "the connection stays usable")
    }

    func testSyntaxErrorCarriesSQLStateAndIsNotCached() throws {
        for _ in 0..<2 {
            XCTAssertThrowsError(try connection.query("SELEC 1")) { error in
                XCTAssertEqual((error as? PostgresError)?.sqlState, "42601")
                XCTAssertEqual((error as? PostgresError)?.kind, .query)
            }
        }
        XCTAssertEqual(connection.preparedStatementCount, 0)
    }

    func testScriptErrorCarriesSQLState() {
        XCTAssertThrowsError(try connection.execute(script: "SELECT 1; SELECT * FROM no_such_table;")) { error in
            XCTAssertEqual((error as? PostgresError)?.sqlState, "42P01")
        }
    }

    /// A server error's message and detail may span lines (a function's RAISE, a constraint's
    /// detail); the CLI prints errors on one line, as INTERFACE.md promises.
    func testAServerErrorOverSeveralLinesIsOneLine() {
        let raise = "DO $$ BEGIN RAISE EXCEPTION E'first\\n  second' USING DETAIL = E'third\\r\\n\\tfourth'; END $$"
        for run in [{ try self.connection.execute(script: raise) }, { _ = try self.connection.query(raise) }] {
            XCTAssertThrowsError(try run()) { error in
                XCTAssertEqual((error as? PostgresError)?.sqlState, "P0001")
                XCTAssertEqual((error as? PostgresError)?.message, "first; second (third; fourth)")
            }
        }
    }

    func testTransactionCommits() throws {
        let value = try connection.transaction { connection in
            _ = try connection.query("INSERT INTO members VALUES ($1, $2)", [.text("!r"), .text("@a")])
            _ = try connection.query("INSERT INTO members VALUES ($1, $2)", [.text("!r"), .text("@b")])
            return "done"
        }
        XCTAssertEqual(value, "done")
        XCTAssertEqual(try count(), 2)
    }

    func testTransactionRollsBackOnThrowAndRethrows() throws {
        struct Abort: Error {}
        XCTAssertThrowsError(try connection.transaction { connection in
            _ = try connection.query("INSERT INTO members VALUES ($1, $2)", [.text("!r"), .text("@a")])
            throw Abort()
        }) { error in XCTAssertTrue(error is Abort) }
        XCTAssertEqual(try count(), 0)
    }

    func testFailingStatementRollsBackEarlierWrites() throws {
        _ = try connection.query("INSERT INTO members VALUES ($1, $2)", [.text("!r"), .text("@dup")])
        XCTAssertThrowsError(try connection.transaction { connection in
            _ = try connection.query("INSERT INTO members VALUES ($1, $2)", [.text("!r"), .text("@new")])
            _ = try connection.query("INSERT INTO members VALUES ($1, $2)", [.text("!r"), .text("@dup")])
        }) { error in XCTAssertEqual((error as? PostgresError)?.isUniqueViolation, true) }
        XCTAssertEqual(try count(), 1)
    }

    func testSwallowedFailureInsideTransactionIsReportedAtCommit() throws {
        XCTAssertThrowsError(try connection.transaction { connection in
            _ = try connection.query("INSERT INTO members VALUES ($1, $2)", [.text("!r"), .text("@a")])
            _ = try? connection.query("SELECT * FROM no_such_table")
        }) { error in XCTAssertEqual((error as? PostgresError)?.sqlState, "25P02") }
        XCTAssertEqual(try count(), 0)
    }

    func testNestedTransactionIsRefused() throws {
        XCTAssertThrowsError(try connection.transaction { connection in
            try connection.transaction { _ in () }
        }) { error in XCTAssertEqual((error as? PostgresError)?.sqlState, "25001") }
        XCTAssertEqual(try connection.query("SELECT 1")[0].int64(0), 1)
    }

    func testTransientClassification() {
        XCTAssertTrue(PostgresError(kind: .query, sqlState: "40001", message: "").isSerializationFailure)
        XCTAssertTrue(PostgresError(kind: .query, sqlState: "40001", message: "").isTransient)
        XCTAssertTrue(PostgresError(kind: .query, sqlState: "40P01", message: "").isDeadlock)
        XCTAssertTrue(PostgresError(kind: .query, sqlState: "40P01", message: "").isTransient)
        XCTAssertTrue(PostgresError(kind: .query, sqlState: "57P01", message: "").isTransient)
        XCTAssertTrue(PostgresError(kind: .query, sqlState: "57P03", message: "").isTransient)
        XCTAssertFalse(PostgresError(kind: .query, sqlState: "08P01", message: "").isTransient)
        XCTAssertFalse(PostgresError(kind: .query, sqlState: "23505", message: "").isTransient)
        XCTAssertTrue(PostgresError(kind: .poolExhausted, message: "").isTransient)
        XCTAssertTrue(PostgresError(kind: .connectionLost, message: "").isTransient)
        XCTAssertFalse(PostgresError(kind: .poolClosed, message: "").isTransient)
    }
}
