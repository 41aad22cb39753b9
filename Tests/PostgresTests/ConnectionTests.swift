import Postgres
import TestSupport
import XCTest

/// Opening connections: the settings every connection gets, and typed failures.
final class ConnectionTests: DatabaseTestCase {
    override class var databasePrefix: String { "connection" }

    func testDefaultsApplyAndTheURLMayOverrideThem() throws {
        let plain = try PostgresConnection(url: url)
        XCTAssertEqual(try plain.query("SHOW application_name")[0].string(0), "leave-worker")
        XCTAssertEqual(try plain.query("SHOW client_encoding")[0].string(0), "UTF8")
        XCTAssertTrue(plain.isConnected)

        let named = try PostgresConnection(url: url + "?application_name=custom&client_encoding=LATIN1")
        XCTAssertEqual(try named.query("SHOW application_name")[0].string(0), "custom")
        XCTAssertEqual(try named.query("SHOW client_encoding")[0].string(0), "UTF8", "results are always decoded as UTF-8")
    }

    func testUnreachableServerIsATransientConnectionFailure() throws {
        let port = try PoolTests.unusedLoopbackPort()
        XCTAssertThrowsError(try PostgresConnection(url: "postgresql://postgres@127.0.0.1:\(port)/postgres")) { error in
            XCTAssertEqual((error as? PostgresError)?.kind, .connectionFailed)
            XCTAssertEqual((error as? PostgresError)?.isTransient, true)
        }
    }

    func testMissingDatabaseAndMalformedURLAreConnectionFailures() throws {
        let missing = try XCTUnwrap(url.range(of: "/", options: .backwards)).lowerBound
        let missingURL = url[..<missing] + "/no_such_database_here"
        XCTAssertThrowsError(try PostgresConnection(url: String(missingURL))) { error in
            let failure = error as? PostgresError
            XCTAssertEqual(failure?.kind, .connectionFailed)
            XCTAssertTrue(failure?.message.contains("no_such_database_here") == true, failure?.message ?? "")
        }
        XCTAssertThrowsError(try PostgresConnection(url: "postgresql://[::1")) { error in
            XCTAssertEqual((error as? PostgresError)?.kind, .connectionFailed)
        }
    }
}
