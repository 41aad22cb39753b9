import Postgres
import Storage
import TestSupport
import XCTest

/// The stream's horizon across a crash of Postgres (an immediate stop: no checkpoint, WAL not yet
/// flushed lost). The sequence hands positions out with their WAL record written, not flushed; a
/// position whose record vanished in a crash comes back for a later event, so no safe point may
/// reach it before its record is on disk — before `sql/0026` one did (the candidate's writers were
/// gone after the crash, so it was promoted), and the federation sender and the feed skipped the
/// event that took the position again, for good.
final class StreamHorizonCrashTests: XCTestCase {
    /// A writer's connection that has taken five positions under the stream lock, as store_leaves
    /// does, in a transaction still open; and the last position it took.
    private static func takePositions(_ pool: PostgresPool) throws -> (PostgresConnection, Int64) {
        let writer = try PostgresConnection(url: pool.configuration.url)
        _ = try writer.query("BEGIN")
        _ = try writer.query("SELECT pg_advisory_xact_lock_shared(7463701)")
        var taken: Int64 = 0
        for _ in 0..<5 { taken = try writer.query("SELECT nextval('event_stream_ordering')")[0].int64(0) ?? 0 }
        return (writer, taken)
    }

    /// A writer takes positions under the stream lock, as store_leaves does, then the server
    /// crashes before anything flushed the WAL.
    func testAWritersPositionsLostInACrashAreNeverBelowTheSafePoint() async throws {
        let pool = try await StorageFixture.migratedPool(prefix: "horizon_crash")
        let horizon = StreamHorizon(pool: pool)
        let (writer, taken) = try Self.takePositions(pool)
        let before = try await horizon.safePosition()
        XCTAssertLessThan(before, taken, "the writer's positions are not safe while it runs")

        try TestDatabase.restartServer(likeACrash: true)
        withExtendedLifetime(writer) {}   // its transaction stayed open until the crash

        let safe = try await horizon.safePosition()   // the writer died with the server
        let next = try await pool.withConnection { try $0.query("SELECT nextval('event_stream_ordering')")[0].int64(0) ?? 0 }
        XCTAssertGreaterThan(next, safe, "a position at or below the safe point was handed out again")
        await pool.close()
    }

    /// A writer that rolled back leaves its positions' record unflushed (an abort does not flush);
    /// a read that finds nobody writing makes the safe point reach them only once it is flushed.
    func testPositionsOfARolledBackWriterAreOnDiskOnceSafe() async throws {
        let pool = try await StorageFixture.migratedPool(prefix: "horizon_abort")
        let horizon = StreamHorizon(pool: pool)
        let (writer, taken) = try Self.takePositions(pool)
        _ = try writer.query("ROLLBACK")
        let safe = try await horizon.safePosition()
        XCTAssertEqual(safe, taken, "nobody writes: the positions are final")

        try TestDatabase.restartServer(likeACrash: true)

        let next = try await pool.withConnection { try $0.query("SELECT nextval('event_stream_ordering')")[0].int64(0) ?? 0 }
        XCTAssertGreaterThan(next, safe, "a position at or below the safe point was handed out again")
        await pool.close()
    }
}
