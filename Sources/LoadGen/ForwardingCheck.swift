import Foundation
import MatrixCore
import MatrixCrypto
import Postgres
import RemoteHomeserver
import Storage

/// What became of the accepted leaves' forwarding after a run (`--drain-timeout`, `--verify-forwarding`).
public struct ForwardingOutcome: Sendable, Equatable {
    /// Seconds from the last answer until nothing was left to deliver; nil: not within the timeout.
    public var drainSeconds: Double?
    /// Deliveries still due when the check stopped waiting.
    public var backlogLeft: Int
    /// With `--verify-forwarding`: (leave, server) deliveries due — every played server other than
    /// the leaver's with a joined member in the room after the leave — and how many of them
    /// arrived never, more than once, or went to a server they were not due to.
    public var expected: Int?
    public var missing: Int?
    public var duplicated: Int?
    public var unexpected: Int?
    /// PDUs of transactions that were not signed by the resident server's key as the resident
    /// server (they deliver nothing: a real homeserver would refuse them).
    public var unauthenticated: Int?
}

/// What one room tells the forwarding count: its accepted events' stream positions, and per server
/// the position up to which it had a joined member (Int64.max: it still has one).
struct RoomFacts: Sendable {
    var positions: [String: Int64]
    var joinedUntil: [String: Int64]
}

/// The forwarding count's figures (see ``ForwardingOutcome``).
struct DeliveryCounts: Sendable, Equatable {
    var expected = 0
    var missing = 0
    var duplicated = 0
    var unexpected = 0
    var unauthenticated = 0
}

/// The end-of-run forwarding check: waits for the backlog to drain (timed from the last answer),
/// then counts what the played servers received against what was due, from the stored events and
/// memberships (not from the sender's own bookkeeping).
enum ForwardingCheck {
    /// The outcome, and a snapshot of the machine's CPU taken when the gauge first read 0 (nil:
    /// it did not within `drainTimeout` of `lastAnswer`).
    static func run(accepted: [AcceptedLeave], played: PlayedServers, version: RoomVersion, residentServer: String,
                    databaseURL: String, lastAnswer: ContinuousClock.Instant, drainTimeout: Duration,
                    verify: Bool) async throws -> (outcome: ForwardingOutcome, machineWhenDrained: MachineCPU?) {
        let pool = PostgresPool(configuration: PostgresConfiguration(url: databaseURL, poolSize: 2))
        do {
            let store = ForwardingStore(pool: pool, serverName: residentServer)
            let clock = ContinuousClock()
            // Waits on the sender's gauge (one probe per (room, server); 0 exactly when nothing is
            // due), at most a fifth of the time in it: the exact count reads the whole backlog —
            // 200 ms of Postgres a call in a 100-server room, every 50 ms — and so slowed the drain
            // it was timing. Counted once at the end.
            let first = clock.now
            var pending = try await store.backlogGauge().positions
            var took = clock.now - first
            while pending > 0 && clock.now - lastAnswer < drainTimeout {
                try await Task.sleep(for: max(.milliseconds(50), took * 4))
                let asked = clock.now
                pending = try await store.backlogGauge().positions
                took = clock.now - asked
            }
            let drained = pending == 0 ? RoomSetup.seconds(clock.now - lastAnswer) : nil
            let machineWhenDrained = pending == 0 ? MachineCPU.snapshot() : nil
            let left = pending == 0 ? 0 : try await store.backlog().events
            var outcome = ForwardingOutcome(drainSeconds: drained, backlogLeft: left)
            if verify {
                try await Task.sleep(for: .milliseconds(500))   // a duplicate in flight has time to arrive
                var rooms: [String: RoomFacts] = [:]
                for roomID in Set(accepted.map(\.roomID)) { rooms[roomID] = try await roomFacts(roomID, pool: pool) }
                let received = Dictionary(uniqueKeysWithValues: played.servers.map { ($0.serverName, $0.receivedTransactions) })
                let counts = count(received: received, accepted: accepted, rooms: rooms, version: version,
                                   residentServer: residentServer)
                outcome.expected = counts.expected
                outcome.missing = counts.missing
                outcome.duplicated = counts.duplicated
                outcome.unexpected = counts.unexpected
                outcome.unauthenticated = counts.unauthenticated
            }
            await pool.close()
            return (outcome, machineWhenDrained)
        } catch {
            await pool.close()
            throw error
        }
    }

    /// What the played servers received (`received`: every played server's name → its
    /// transactions) against what was due: each accepted leave to every played server other than
    /// the leaver's with a joined member in the room after the leave (`rooms`: by room ID).
    /// Events go by the ID recomputed from each PDU, across all transactions, so the same event
    /// twice — in one transaction or two — is a duplicate; an unhashable PDU, or an event a server
    /// was not due, is unexpected. Only transactions whose X-Matrix signature verified and whose
    /// origin is `residentServer` deliver; the PDUs of any other are counted as unauthenticated.
    static func count(received: [String: [ReceivedTransaction]], accepted: [AcceptedLeave], rooms: [String: RoomFacts],
                      version: RoomVersion, residentServer: String) -> DeliveryCounts {
        var counts = DeliveryCounts()
        var times: [String: [String: Int]] = [:]   // server → event ID → times
        for (server, transactions) in received {
            var perEvent: [String: Int] = [:]
            for transaction in transactions {
                guard transaction.isAuthenticated, transaction.origin?.bytesEqual(residentServer) == true else {
                    counts.unauthenticated += transaction.pdus.count
                    continue
                }
                for pdu in transaction.pdus {
                    perEvent[(try? EventHashing.eventID(of: pdu, version: version)) ?? "unhashable", default: 0] += 1
                }
            }
            times[server] = perEvent
        }
        var due: [String: Set<String>] = [:]   // server → event IDs due
        for leave in accepted {
            guard let facts = rooms[leave.roomID], let position = facts.positions[leave.eventID] else { continue }
            let leaver = Self.server(of: leave.userID)
            for server in received.keys where !server.bytesEqual(leaver) && (facts.joinedUntil[server] ?? 0) > position {
                counts.expected += 1
                due[server, default: []].insert(leave.eventID)
                let received = times[server]?[leave.eventID] ?? 0
                if received == 0 { counts.missing += 1 } else if received > 1 { counts.duplicated += received - 1 }
            }
        }
        counts.unexpected = times.reduce(0) { sum, entry in
            sum + entry.value.filter { due[entry.key]?.contains($0.key) != true }.values.reduce(0, +)
        }
        return counts
    }

    /// A room's ``RoomFacts``, from the stored events and memberships.
    private static func roomFacts(_ roomID: String, pool: PostgresPool) async throws -> RoomFacts {
        try await pool.withConnection { connection in
            var positions: [String: Int64] = [:]
            for row in try connection.query("SELECT event_id, stream_ordering FROM events WHERE room_id = $1 AND accepted",
                                            [.text(roomID)]).rows {
                if let id = row.string(0), let position = row.int64(1) { positions[id] = position }
            }
            var joinedUntil: [String: Int64] = [:]
            for row in try connection.query("""
                SELECT user_server(m.user_id),
                       max(CASE WHEN m.membership = 'join' THEN 9223372036854775807 ELSE e.stream_ordering END)
                FROM memberships m JOIN events e ON e.room_id = m.room_id AND e.event_id = m.event_id
                WHERE m.room_id = $1 AND (m.membership = 'join' OR e.accepted)
                GROUP BY 1
                """, [.text(roomID)]).rows {
                if let server = row.string(0), let until = row.int64(1) { joinedUntil[server] = until }
            }
            return RoomFacts(positions: positions, joinedUntil: joinedUntil)
        }
    }

    private static func server(of userID: String) -> String {
        userID.utf8.firstIndex(of: UInt8(ascii: ":")).map { String(userID.utf8[userID.utf8.index(after: $0)...]) ?? "" } ?? ""
    }
}
