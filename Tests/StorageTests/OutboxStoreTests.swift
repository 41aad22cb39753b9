import Postgres
import Storage
import TestSupport
import XCTest

/// Claiming, leases, delivery and per-destination back-off on the outbox the leave transaction fills.
final class OutboxStoreTests: XCTestCase {
    private var pool: PostgresPool!
    private var rooms: RoomStore!
    private var outbox: OutboxStore!
    private var room = RoomBuilder(roomID: "!outbox:resident.test")

    override func setUp() async throws {
        pool = try await StorageFixture.migratedPool(prefix: "outbox")
        rooms = RoomStore(pool: pool)
        outbox = OutboxStore(pool: pool)
        for index in 0..<4 { room.join("@m\(index):remote.test") }
        _ = try await rooms.importRoom(roomID: room.roomID, version: room.version, events: room.events, state: room.stateRecords)
    }

    override func tearDown() async throws {
        await pool.close()
    }

    /// Stores the leave of member `index`, to be forwarded to `destinations`.
    private func leave(_ index: Int, to destinations: [String]) async throws -> EventRecord {
        let leave = room.leave("@m\(index):remote.test", id: "$leave\(index)", prevEvents: [room.lastEventID])
        let outcome = try await rooms.storeLeave(leave, expectedMembership: "join", destinations: destinations)
        guard case .stored = outcome else { throw StorageError.malformedRow("not stored: \(outcome)") }
        return leave
    }

    func testClaimLeasesDeliveriesOnceWithTheirPDUs() async throws {
        let first = try await leave(0, to: ["a.test", "b.test"])
        let second = try await leave(1, to: ["a.test"])
        let due = try await outbox.dueDestinations(limit: 10)
        XCTAssertEqual(due, ["a.test", "b.test"])

        let claimed = try await outbox.claim(destination: "a.test", limit: 10, lease: .seconds(60))
        XCTAssertEqual(claimed.map(\.eventID), [first.eventID, second.eventID], "oldest first")
        XCTAssertEqual(claimed.map(\.pdu), [first.pdu, second.pdu])
        XCTAssertEqual(claimed.map(\.attempts), [1, 1])
        let again = try await outbox.claim(destination: "a.test", limit: 10, lease: .seconds(60))
        XCTAssertEqual(again, [], "leased deliveries are not claimed twice")
        let dueNow = try await outbox.dueDestinations(limit: 10)
        XCTAssertEqual(dueNow, ["b.test"])
        let limited = try await outbox.claim(destination: "b.test", limit: 0, lease: .seconds(60))
        XCTAssertEqual(limited, [])
    }

    func testPruningDeletesOnlyOldSentRowsInBatchesAndOneWorkerAtATime() async throws {
        _ = try await leave(0, to: ["a.test", "b.test", "c.test", "pending.test"])
        _ = try await leave(1, to: ["recent.test"])
        try await pool.withConnection { connection in
            _ = try connection.query("""
                UPDATE outbox SET state = 'sent', sent_at = now() - interval '2 hours'
                WHERE destination IN ('a.test', 'b.test', 'c.test')
                """)
            _ = try connection.query("UPDATE outbox SET state = 'sent', sent_at = now() WHERE destination = 'recent.test'")
        }

        // Another worker pruning (holding the lock in its transaction): this one does nothing.
        let other = try PostgresConnection(url: pool.configuration.url)
        try other.execute(script: "BEGIN")
        _ = try other.query("SELECT pg_advisory_xact_lock($1)", [.int(OutboxStore.pruneLockKey)])
        let whileLocked = try await outbox.pruneSent(olderThan: .seconds(3_600))
        XCTAssertNil(whileLocked)
        try other.execute(script: "ROLLBACK")

        let first = try await outbox.pruneSent(olderThan: .seconds(3_600), limit: 2)
        let second = try await outbox.pruneSent(olderThan: .seconds(3_600), limit: 2)
        let third = try await outbox.pruneSent(olderThan: .seconds(3_600), limit: 2)
        XCTAssertEqual([first, second, third], [2, 1, 0])
        let left = try await StorageFixture.rows(pool, "SELECT destination, state FROM outbox ORDER BY destination")
        XCTAssertEqual(left, [["pending.test", "pending"], ["recent.test", "sent"]])
        let locks = try await StorageFixture.rows(pool, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")
        XCTAssertEqual(locks, [["0"]], "no advisory lock outlives a prune")
    }

    func testConcurrentClaimsGetDisjointDeliveries() async throws {
        for index in 0..<4 { _ = try await leave(index, to: ["a.test"]) }
        let store = outbox!
        let claims = try await withThrowingTaskGroup(of: [String].self) { group in
            for _ in 0..<4 {
                group.addTask { try await store.claim(destination: "a.test", limit: 2, lease: .seconds(60)).map(\.eventID) }
            }
            return try await group.reduce(into: [String]()) { $0 += $1 }
        }
        XCTAssertEqual(claims.sorted(), ["$leave0", "$leave1", "$leave2", "$leave3"])
    }

    func testAnExpiredLeaseMakesTheDeliveryDueAgain() async throws {
        _ = try await leave(0, to: ["a.test"])
        let crashed = try await outbox.claim(destination: "a.test", limit: 10, lease: .milliseconds(1))
        XCTAssertEqual(crashed.count, 1)
        try await Task.sleep(for: .milliseconds(20))
        let reclaimed = try await outbox.claim(destination: "a.test", limit: 10, lease: .seconds(60))
        XCTAssertEqual(reclaimed.map(\.eventID), ["$leave0"])
        XCTAssertEqual(reclaimed.map(\.attempts), [2])
    }

    func testSentDeliveriesAreDoneAndClearTheBackOff() async throws {
        _ = try await leave(0, to: ["a.test"])
        let failed = try await outbox.claim(destination: "a.test", limit: 10, lease: .seconds(60))
        try await outbox.markFailed(failed, error: "connection refused", backoff: BackoffPolicy(base: .milliseconds(1), maximum: .milliseconds(1)))
        try await Task.sleep(for: .milliseconds(20))
        let claimed = try await outbox.claim(destination: "a.test", limit: 10, lease: .seconds(60))
        XCTAssertEqual(claimed.count, 1)
        try await outbox.markSent(claimed)

        let rows = try await StorageFixture.rows(pool, "SELECT state, claimed_until IS NULL, sent_at IS NOT NULL FROM outbox")
        XCTAssertEqual(rows, [["sent", "t", "t"]])
        let destination = try await StorageFixture.rows(pool, "SELECT failures, retry_at IS NULL, last_error IS NULL FROM destinations")
        XCTAssertEqual(destination, [["0", "t", "t"]])
        let nothing = try await outbox.claim(destination: "a.test", limit: 10, lease: .seconds(60))
        XCTAssertEqual(nothing, [])
        let summary = try await outbox.pendingSummary()
        XCTAssertEqual(summary.pending, 0)
        XCTAssertNil(summary.oldestWait)
        let pruned = try await outbox.pruneSent(olderThan: .zero)
        XCTAssertEqual(pruned, 1)
    }

    func testFailuresBackOffTheDestinationExponentiallyUpToTheBound() async throws {
        _ = try await leave(0, to: ["down.test", "up.test"])
        let policy = BackoffPolicy(base: .seconds(10), maximum: .seconds(35))
        var waits: [String] = []
        for _ in 0..<4 {
            try await pool.withConnection { connection in
                _ = try connection.query("UPDATE destinations SET retry_at = now() - interval '1 second'")
                _ = try connection.query("UPDATE outbox SET next_attempt_at = now() - interval '1 second'")
            }
            let claimed = try await outbox.claim(destination: "down.test", limit: 10, lease: .seconds(60))
            XCTAssertEqual(claimed.count, 1)
            try await outbox.markFailed(claimed, error: "503", backoff: policy)
            waits.append(try await StorageFixture.rows(pool, """
                SELECT extract(epoch FROM retry_at - last_failure_at)::bigint::text FROM destinations WHERE destination = 'down.test'
                """)[0][0])
        }
        XCTAssertEqual(waits, ["10", "20", "35", "35"])
        let failures = try await StorageFixture.rows(pool, "SELECT failures, last_error FROM destinations")
        XCTAssertEqual(failures, [["4", "503"]])
        let backedOff = try await outbox.claim(destination: "down.test", limit: 10, lease: .seconds(60))
        XCTAssertEqual(backedOff, [], "nothing is claimed for a backed-off destination")
        let due = try await outbox.dueDestinations(limit: 10)
        XCTAssertEqual(due, ["up.test"], "other destinations are not delayed")
        let summary = try await outbox.pendingSummary()
        XCTAssertEqual(summary.pending, 2)
        XCTAssertNotNil(summary.oldestWait)
    }
}
