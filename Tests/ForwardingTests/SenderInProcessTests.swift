import Federation
@testable import Forwarding
import Foundation
import Logging
import MatrixCrypto
import Postgres
import Storage
import TestSupport
import Testing

/// The sender in this process against a migrated database whose outbox is filled directly, and
/// destinations whose answers are scripted: batching, failure and back-off, recovery, shutdown.
struct SenderInProcessTests {
    /// A migrated database holding `count` pending deliveries `$e1` … to `destination`.
    private static func outbox(deliveries count: Int, to destination: String) async throws -> (url: String, pool: PostgresPool) {
        let url = try TestDatabase.create(prefix: "sender")
        let pool = PostgresPool(configuration: PostgresConfiguration(url: url, poolSize: 4))
        _ = try await Migrator(directory: URL(fileURLWithPath: WorkerProcess.sqlDirectory)).migrate(pool: pool)
        try await pool.withConnection { connection in
            _ = try connection.query("INSERT INTO rooms (room_id, room_version) VALUES ('!r:resident.test', '10')")
            _ = try connection.query("""
                INSERT INTO events (room_id, event_id, type, state_key, sender, depth, origin_server_ts, membership,
                                    prev_events, auth_events, pdu)
                SELECT '!r:resident.test', '$e' || i, 'm.room.member', '@u' || i || ':a.test', '@u' || i || ':a.test',
                       i, 1, 'leave', '{}', '{}', json_build_object('event_id', '$e' || i, 'depth', i)::text
                FROM generate_series(1, $1::int) i
                """, [.int(Int64(count))])
            _ = try connection.query("""
                INSERT INTO outbox (room_id, event_id, destination)
                SELECT '!r:resident.test', '$e' || i, $2 FROM generate_series(1, $1::int) i
                """, [.int(Int64(count)), .text(destination)])
        }
        return (url, pool)
    }

    private static func sender(pool: PostgresPool, destination: String, baseURL: String, lease: Duration = .seconds(4))
        throws -> (FederationSender, FederationTransport)
    {
        var configuration = SenderConfiguration()
        configuration.lease = lease
        configuration.requestTimeout = lease / 2
        configuration.pollInterval = .milliseconds(100)
        configuration.backoff = BackoffPolicy(base: .milliseconds(100), maximum: .milliseconds(300))
        let transport = FederationTransport(destinations: FederationDestinations(
            overrides: try FederationOverrides.parse("\(destination)=\(baseURL)")))
        let client = FederationClient(serverName: "resident.test", signingKey: try SigningKey.generate(version: "s1"),
                                      transport: transport, timeout: configuration.requestTimeout)
        var logger = Logger(label: "sender-test")
        logger.logLevel = .critical
        return (FederationSender(pool: pool, client: client, configuration: configuration, logger: logger), transport)
    }

    private static func pendingCount(_ pool: PostgresPool) async throws -> Int64 {
        try await pool.withConnection { try $0.query("SELECT count(*) FROM outbox WHERE state = 'pending'").rows[0].int64(0) ?? -1 }
    }

    private static func destinationRow(_ pool: PostgresPool, _ name: String) async throws -> (failures: Int64, lastError: String?)? {
        try await pool.withConnection { connection in
            let result = try connection.query("SELECT failures, last_error FROM destinations WHERE destination = $1", [.text(name)])
            return result.rows.first.map { ($0.int64(0) ?? -1, $0.string(1)) }
        }
    }

    private static func shutDown(_ transport: FederationTransport, _ pool: PostgresPool, _ url: String) async {
        try? await transport.destinations.shutdown()
        await pool.close()
        try? TestDatabase.drop(url)
    }

    @Test func failuresBackOffThenEverythingGoesInBatchesOfAtMostFifty() async throws {
        let (url, pool) = try await Self.outbox(deliveries: 60, to: "flaky.test")
        let destination = try await ScriptedDestination(status: 500)
        let (sender, transport) = try Self.sender(pool: pool, destination: "flaky.test", baseURL: destination.baseURL)
        let running = Task { await sender.run() }

        let retried = await waitUntil(timeout: .seconds(10)) {
            (try? await Self.destinationRow(pool, "flaky.test"))?.failures ?? 0 >= 2
        }
        #expect(retried != nil, "no repeated failure recorded")
        #expect(try await Self.destinationRow(pool, "flaky.test")?.lastError == "HTTP 500 M_UNKNOWN")
        #expect(try await Self.pendingCount(pool) == 60)

        destination.answer(status: 200)
        let drained = await waitUntil(timeout: .seconds(10)) { (try? await Self.pendingCount(pool)) == 0 }
        #expect(drained != nil)
        #expect(try await Self.destinationRow(pool, "flaky.test")?.failures == 0)

        let all = destination.transactions
        let accepted = all.filter { $0.answeredStatus == 200 }
        #expect(all.allSatisfy { $0.eventIDs.count <= 50 })
        #expect(accepted.map(\.eventIDs.count).sorted() == [10, 50])
        #expect(Set(accepted.flatMap(\.eventIDs)) == Set((1...60).map { "$e\($0)" }))
        #expect(Set(all.map(\.id)).count == all.count, "a transaction ID was reused")

        sender.stopClaiming()
        await running.value
        await destination.stop()
        await Self.shutDown(transport, pool, url)
    }

    @Test func cancellingLeavesTheClaimToItsLeaseWithoutBackingOff() async throws {
        let (url, pool) = try await Self.outbox(deliveries: 3, to: "hanging.test")
        let hanging = try HangingPort(port: WorkerProcess.freePort())
        defer { hanging.close() }
        let (sender, transport) = try Self.sender(pool: pool, destination: "hanging.test",
                                                  baseURL: "http://127.0.0.1:\(hanging.port)", lease: .seconds(30))
        let running = Task { await sender.run() }
        let claimed = await waitUntil(timeout: .seconds(5)) {
            (try? await pool.withConnection { try $0.query("SELECT count(*) FROM outbox WHERE claimed_until > now()").rows[0].int64(0) }) == 3
        }
        #expect(claimed != nil)
        try await Task.sleep(for: .milliseconds(200))   // the request is on its way
        let clock = ContinuousClock()
        let cancelledAt = clock.now
        running.cancel()
        await running.value
        #expect(clock.now - cancelledAt < .seconds(10))   // not after the request's 15 s timeout
        #expect(try await Self.destinationRow(pool, "hanging.test") == nil, "a shutdown was recorded as a failure")
        #expect(try await pool.withConnection {
            try $0.query("SELECT count(*) FROM outbox WHERE state = 'pending' AND claimed_until > now()").rows[0].int64(0)
        } == 3)
        await Self.shutDown(transport, pool, url)
    }

    @Test func stopClaimingLetsTheTransactionInFlightFinish() async throws {
        let (url, pool) = try await Self.outbox(deliveries: 2, to: "slow.test")
        let destination = try await ScriptedDestination(status: 200, delay: .milliseconds(700))
        let (sender, transport) = try Self.sender(pool: pool, destination: "slow.test", baseURL: destination.baseURL,
                                                  lease: .seconds(20))
        let running = Task { await sender.run() }
        let inFlight = await waitUntil(timeout: .seconds(5)) {
            (try? await pool.withConnection { try $0.query("SELECT count(*) FROM outbox WHERE claimed_until > now()").rows[0].int64(0) }) == 2
        }
        #expect(inFlight != nil)
        sender.stopClaiming()
        await running.value
        #expect(try await Self.pendingCount(pool) == 0, "the answered transaction was not recorded")
        #expect(destination.transactions.count == 1)
        await destination.stop()
        await Self.shutDown(transport, pool, url)
    }
}
