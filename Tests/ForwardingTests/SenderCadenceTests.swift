@testable import Forwarding
import Postgres
import Storage
import TestSupport
import Testing

/// What the sender's cadence (`FederationSender.scanInterval`, one transaction in flight per
/// destination) promises: leaves stored while a destination's transaction is in flight go out
/// together in its next transaction, and a lone leave after a quiet spell still goes out at once
/// (no poll in sight).
struct SenderCadenceTests {
    /// Stores the leave `eventID` after the others and sends its NOTIFY (one transaction each, as
    /// the accept path commits them); returns its stream position.
    private static func store(_ eventID: String, _ pool: PostgresPool) async throws -> Int64 {
        try await pool.withConnection { connection in
            let position = try connection.query("""
                INSERT INTO events (room_id, event_id, type, state_key, sender, depth, origin_server_ts, membership,
                                    prev_events, auth_events, pdu, accepted)
                VALUES ('!r:resident.test', $1, 'm.room.member', '@' || md5($1) || ':a.test', '@' || md5($1) || ':a.test',
                        100, 1, 'leave', '{}', '{}', json_build_object('event_id', $1)::text, true)
                RETURNING stream_ordering
                """, [.text(eventID)]).rows.first?.int64(0)
            _ = try connection.query("SELECT pg_notify($1, '{}')", [.text(StreamNotification.channel)])
            return try #require(position)
        }
    }

    @Test func leavesStoredWhileATransactionIsInFlightGoOutTogetherInTheNextAndALoneLeaveStillGoesOut() async throws {
        let (url, pool) = try await SenderInProcessTests.due(1, to: "held.test")
        let destination = try await ScriptedDestination(status: 200)
        destination.hold()
        let (sender, transport) = try SenderInProcessTests.sender(
            pool: pool, destination: "held.test", baseURL: destination.baseURL, lease: .seconds(60), pollInterval: .seconds(3_600))
        let running = Task { await sender.run() }
        let inFlight = await waitUntil(timeout: .seconds(10)) { destination.arrivals == 1 }
        #expect(inFlight != nil, "the first transaction never arrived")

        var last: Int64 = 0
        for index in 2...6 { last = try await Self.store("$e\(index)", pool) }
        // The sender has read a safe point past them (its NOTIFYs woke a scan): whatever claims
        // next may take all five.
        let seen = await waitUntil(timeout: .seconds(10)) { sender.horizon.knownSafePosition >= last }
        #expect(seen != nil)
        destination.release()
        let drained = await waitUntil(timeout: .seconds(10)) { (try? await SenderInProcessTests.pendingCount(pool)) == 0 }
        #expect(drained != nil)
        #expect(destination.transactions.map(\.eventIDs) == [["$e1"], ["$e2", "$e3", "$e4", "$e5", "$e6"]])

        _ = try await Self.store("$lone", pool)
        let lone = await waitUntil(timeout: .seconds(10)) { destination.transactions.count == 3 }
        #expect(lone != nil, "a lone leave waited for the poll")
        #expect(destination.transactions.last?.eventIDs == ["$lone"])
        #expect(Set(destination.transactions.map(\.id)).count == 3)

        await SenderInProcessTests.stop(sender, running, destination, transport, pool, url)
    }
}
