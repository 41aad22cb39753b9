import Postgres
import TestSupport
import XCTest

/// A test case with a fresh database per test (`url`), dropped afterwards.
class DatabaseTestCase: XCTestCase {
    private(set) var url: String!

    /// The database name's prefix, to tell the suites' databases apart.
    class var databasePrefix: String { "pg" }

    override func setUpWithError() throws {
        url = try TestDatabase.create(prefix: Self.databasePrefix)
    }

    override func tearDownWithError() throws {
        try TestDatabase.drop(url)
    }

    /// Borrows the pool's connection(s) for `seconds` of `pg_sleep`, returning once the borrow has begun.
    func occupyConnection(of pool: PostgresPool, seconds: Double) async -> Task<Int, any Error> {
        let borrowed = expectation(description: "a borrower holds a connection")
        let holder = Task {
            try await pool.withConnection { connection in
                borrowed.fulfill()
                return try connection.query("SELECT pg_sleep($1::float8)", [.text(String(seconds))]).rowCount
            }
        }
        await fulfillment(of: [borrowed], timeout: 10)
        return holder
    }
}

/// A test case that also opens one connection to its fresh database.
class ConnectionTestCase: DatabaseTestCase {
    private(set) var connection: PostgresConnection!

    override func setUpWithError() throws {
        try super.setUpWithError()
        connection = try PostgresConnection(url: url)
    }

    override func tearDownWithError() throws {
        connection = nil
        try super.tearDownWithError()
    }
}
