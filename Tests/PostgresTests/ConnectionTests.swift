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

        // A server that vanishes without a reset is noticed while idle (keepalives) and while a
        // statement is unacknowledged (tcp_user_timeout); the URL may say otherwise.
        XCTAssertEqual(plain.option("keepalives_idle"), "30")
        XCTAssertEqual(plain.option("tcp_user_timeout"), "30000")
        XCTAssertEqual(try PostgresConnection(url: url + "?tcp_user_timeout=5000").option("tcp_user_timeout"), "5000")

        let named = try PostgresConnection(url: url + "?application_name=custom&client_encoding=LATIN1")
        XCTAssertEqual(try named.query("SHOW application_name")[0].string(0), "custom")
        XCTAssertEqual(try named.query("SHOW client_encoding")[0].string(0), "UTF8", "results are always decoded as UTF-8")
    }

    func testTheURLsOptionsAreKeptAndTheTimeoutsComeAfterThem() throws {
        let plain = try PostgresConnection(url: url)
        XCTAssertEqual(try plain.query("SHOW plan_cache_mode")[0].string(0), "force_generic_plan")
        XCTAssertEqual(try plain.query("SHOW jit")[0].string(0), "off", "no JIT compilation on a worker's session")

        let options = "?options=-c%20work_mem%3D5MB%20-c%20plan_cache_mode%3Dauto%20-c%20lock_timeout%3D9s"
        let bounded = try PostgresConnection(url: url + options, parameters: [("statement_timeout", "1500"), ("lock_timeout", "250")])
        XCTAssertEqual(try bounded.query("SHOW work_mem")[0].string(0), "5MB", "the URL's own options are kept")
        XCTAssertEqual(try bounded.query("SHOW plan_cache_mode")[0].string(0), "auto", "the URL may override the plan cache mode")
        XCTAssertEqual(try bounded.query("SHOW jit")[0].string(0), "off")
        XCTAssertEqual(try bounded.query("SHOW statement_timeout")[0].string(0), "1500ms")
        XCTAssertEqual(try bounded.query("SHOW lock_timeout")[0].string(0), "250ms", "the settings win over the URL")
    }

    func testAStatementPastTheStatementTimeoutFailsAsATimeout() async throws {
        var configuration = PostgresConfiguration(url: url, poolSize: 1)
        configuration.statementTimeout = .milliseconds(200)
        configuration.lockTimeout = .milliseconds(100)
        let pool = PostgresPool(configuration: configuration)
        do {
            _ = try await pool.withConnection { try $0.query("SELECT pg_sleep(5)").rowCount }
            XCTFail("pg_sleep(5) outlived a 200 ms statement timeout")
        } catch let error as PostgresError {
            XCTAssertEqual(error.sqlState, "57014")
            XCTAssertTrue(error.isStatementTimeout)
        }
        let after = try await pool.withConnection { try $0.query("SELECT 1")[0].int64(0) }
        XCTAssertEqual(after, 1, "the connection is still usable")
        await pool.close()
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
        // What the URL holds — a password among it — is not repeated (libpq's message quoted it).
        for malformed in ["postgresql://app:pa%zzsecret@127.0.0.1/db", "host=127.0.0.1 password secret"] {
            XCTAssertThrowsError(try PostgresConnection(url: malformed)) { error in
                let failure = error as? PostgresError
                XCTAssertEqual(failure?.kind, .connectionFailed)
                XCTAssertFalse(failure?.message.contains("secret") ?? true, failure?.message ?? "")
            }
        }
    }
}
