import Postgres
import Synchronization

/// The federation sender's side of the event stream (sql/README.md, "Forwarding"): each
/// destination has a stream position in `destinations`; its due events are the accepted events
/// after it in the rooms where it has (or had, when the event was stored) joined members, not sent
/// by it. A sender claims a destination with a lease, sends a batch, then advances the position —
/// one statement each, on the database's clock, so every worker agrees on leases and back-off.
public final class ForwardingStore: Sendable {
    let pool: PostgresPool
    /// This server: never a destination.
    let serverName: String
    private let ownerPrefix = String(UInt64.random(in: 0...UInt64.max), radix: 36)
    /// How this sender's lease owners (`<ownerPrefix>.<n>`) begin.
    private var leaseOwnerPrefix: String { ownerPrefix + "." }
    private let claims = Atomic<UInt64>(0)

    public init(pool: PostgresPool, serverName: String) {
        self.pool = pool
        self.serverName = serverName
    }

    /// Destinations with events due, not backed off and not leased by another sender (this
    /// sender's own leases are included: a destination it is draining may be due again), furthest
    /// behind first, at most `limit`; and the position the scan covered.
    ///
    /// `changedAfter` nil scans every (room, server) pair — one index probe each, O(rooms ×
    /// servers): for the poll timer (leases and back-offs ending, a sender started). A position
    /// (a previous scan's ``DueDestinations/scannedThrough``) looks only at the rooms with accepted
    /// events after it (at most ``changedEventsPerScan`` of them, in stream order) and at their
    /// servers, so a wake-up costs what changed. Every read of `events` is a `LATERAL` or
    /// `ORDER BY … LIMIT` subquery, so its position bound is an index condition; a room's probe
    /// is ordered by `(room_id, stream_ordering)`, the partial index's order (ordered by position
    /// alone, the planner walked the stream's index and skipped the other rooms' events).
    public func dueDestinations(limit: Int, changedAfter position: Int64? = nil) async throws -> DueDestinations {
        let parameters: [PostgresValue] = [.text(serverName), .int(Int64(max(0, limit))), .text(leaseOwnerPrefix)]
        return try await pool.withConnection { connection in
            let rows = try position.map {
                try connection.query(Self.changedScanSQL, parameters + [.int($0), .int(Int64(Self.changedEventsPerScan))]).rows
            } ?? connection.query(Self.fullScanSQL, parameters).rows
            guard let head = rows.first?.int64(0) else { throw StorageError.malformedRow("due destinations") }
            return DueDestinations(destinations: rows.compactMap { $0.string(1) }, scannedThrough: head)
        }
    }

    /// How many accepted events one incremental scan reads at most; a longer window is scanned on
    /// the next wake-up, from where this one stopped.
    public static let changedEventsPerScan = 10_000

    /// `$1` this server, `$3` this sender's lease-owner prefix: the conditions on a due row `j` of
    /// `room_joined_servers` joined with its destination `d`, whose next due event is `next`.
    private static let dueConditions = """
        j.server_name <> $1
          AND (d.retry_at IS NULL OR d.retry_at <= now())
          AND (d.lease_until IS NULL OR d.lease_until < now() OR left(d.lease_owner, length($3)) = $3)
        """

    /// Every (room, server) pair probed for its next due event; the stream's head.
    private static let fullScanSQL = """
        WITH due AS (
            SELECT j.server_name, min(coalesce(d.stream_position, 0)) AS behind FROM room_joined_servers j
            LEFT JOIN destinations d ON d.destination = j.server_name
            CROSS JOIN LATERAL (
                SELECT e.stream_ordering FROM events e
                WHERE e.accepted AND e.room_id = j.room_id
                  AND e.stream_ordering > greatest(coalesce(d.stream_position, 0), j.since_position)
                ORDER BY e.room_id, e.stream_ordering LIMIT 1) next
            WHERE \(dueConditions) AND (j.joined_members > 0 OR next.stream_ordering < j.left_position)
            GROUP BY j.server_name ORDER BY 2, 1 LIMIT $2)
        SELECT (SELECT coalesce(max(stream_ordering), 0) FROM events), due.server_name
        FROM (SELECT 1) one LEFT JOIN due ON true ORDER BY due.behind, due.server_name
        """

    /// The servers of the rooms with accepted events after `$4` (the first `$5` such events): a
    /// server is due when the room's last of them is after its position. A server whose last
    /// member left may be a false positive (nothing due before its left_position): the claim then
    /// finds nothing and moves its position on. The window's end: the last event read when `$5`
    /// were read, else the stream's head.
    private static let changedScanSQL = """
        WITH window_events AS (
            SELECT e.room_id, e.stream_ordering FROM events e
            WHERE e.accepted AND e.stream_ordering > $4 ORDER BY e.stream_ordering LIMIT $5),
        changed AS (SELECT room_id, max(stream_ordering) AS last FROM window_events GROUP BY room_id),
        due AS (
            SELECT j.server_name, min(coalesce(d.stream_position, 0)) AS behind FROM changed c
            JOIN room_joined_servers j ON j.room_id = c.room_id
            LEFT JOIN destinations d ON d.destination = j.server_name
            WHERE \(dueConditions)
              AND c.last > greatest(coalesce(d.stream_position, 0), j.since_position)
              AND (j.joined_members > 0 OR j.left_position > greatest(coalesce(d.stream_position, 0), j.since_position))
            GROUP BY j.server_name ORDER BY 2, 1 LIMIT $2)
        SELECT CASE WHEN (SELECT count(*) FROM window_events) >= $5 THEN (SELECT max(stream_ordering) FROM window_events)
                    ELSE (SELECT coalesce(max(stream_ordering), 0) FROM events) END,
               due.server_name
        FROM (SELECT 1) one LEFT JOIN due ON true ORDER BY due.behind, due.server_name
        """

    /// Claims `destination` for `lease` and reads its next due events (at most `limit`, in stream
    /// order); nil when another sender holds it, it is backed off, or it is this server. A batch whose sender dies is
    /// claimed again, with the same events, when the lease ends (at-least-once).
    public func claim(destination: String, limit: Int, lease: Duration) async throws -> ForwardingBatch? {
        let owner = "\(ownerPrefix).\(claims.wrappingAdd(1, ordering: .relaxed).newValue)"
        let limit = max(1, limit)
        let serverName = serverName
        return try await pool.withConnection { connection in
            let rows = try connection.query("""
                WITH claimed AS (
                    INSERT INTO destinations AS d (destination, lease_until, lease_owner)
                    SELECT $1, now() + $3 * interval '1 millisecond', $4 WHERE $1 <> $5
                    ON CONFLICT (destination) DO UPDATE SET lease_until = EXCLUDED.lease_until, lease_owner = EXCLUDED.lease_owner
                        WHERE (d.lease_until IS NULL OR d.lease_until < now()) AND (d.retry_at IS NULL OR d.retry_at <= now())
                    RETURNING d.stream_position),
                due AS (
                    SELECT p.room_id, p.event_id, p.stream_ordering, p.pdu
                    FROM claimed c
                    JOIN room_joined_servers j ON j.server_name = $1
                                              AND (j.joined_members > 0 OR j.left_position > c.stream_position)
                    CROSS JOIN LATERAL (
                        SELECT e.room_id, e.event_id, e.stream_ordering, e.pdu FROM events e
                        WHERE e.accepted AND e.room_id = j.room_id
                          AND e.stream_ordering > greatest(c.stream_position, j.since_position)
                          AND (j.joined_members > 0 OR e.stream_ordering < j.left_position)
                          AND user_server(e.sender) <> $1
                        ORDER BY e.stream_ordering LIMIT $2) p
                    ORDER BY p.stream_ordering LIMIT $2)
                SELECT c.stream_position, (SELECT coalesce(max(stream_ordering), 0) FROM events),
                       u.room_id, u.event_id, u.stream_ordering, u.pdu
                FROM claimed c LEFT JOIN due u ON true
                ORDER BY u.stream_ordering
                """, [.text(destination), .int(Int64(limit)), .int(Self.milliseconds(lease)), .text(owner),
                  .text(serverName)]).rows
            guard let first = rows.first else { return nil }
            guard let after = first.int64(0), let head = first.int64(1) else { throw StorageError.malformedRow("claim") }
            var events: [ForwardedEvent] = []
            for row in rows {
                guard let roomID = row.string(2) else { continue }   // claimed, nothing due
                guard let eventID = row.string(3), let position = row.int64(4), let pdu = row.bytes(5) else {
                    throw StorageError.malformedRow("due event")
                }
                events.append(ForwardedEvent(roomID: roomID, eventID: eventID, streamPosition: position, pdu: pdu))
            }
            // Fewer than the limit: these are all the destination's due events up to the head
            // (the stream lock: nothing at or below it commits later).
            let through = events.count == limit ? events[events.count - 1].streamPosition : max(after, head)
            return ForwardingBatch(destination: destination, owner: owner, after: after, events: events, through: through)
        }
    }

    /// The destination took the batch (or nothing of it could be sent): its position moves to the
    /// batch's end and the lease is released; when `delivered`, its back-off is cleared.
    public func complete(_ batch: ForwardingBatch, delivered: Bool) async throws {
        _ = try await pool.withConnection { connection in
            try connection.query("""
                UPDATE destinations SET stream_position = greatest(stream_position, $2),
                    lease_until = CASE WHEN lease_owner = $3 THEN NULL ELSE lease_until END,
                    lease_owner = CASE WHEN lease_owner = $3 THEN NULL ELSE lease_owner END,
                    failures = CASE WHEN $4 THEN 0 ELSE failures END,
                    retry_at = CASE WHEN $4 THEN NULL ELSE retry_at END,
                    last_error = CASE WHEN $4 THEN NULL ELSE last_error END,
                    last_success_at = CASE WHEN $4 THEN now() ELSE last_success_at END
                WHERE destination = $1
                """, [.text(batch.destination), .int(batch.through), .text(batch.owner), .bool(delivered)])
        }
    }

    /// The destination could not take the batch: the lease is released and the destination backed
    /// off (its consecutive failures counted) — for every worker, since it lives in Postgres.
    public func fail(_ batch: ForwardingBatch, error: String, backoff: BackoffPolicy = BackoffPolicy()) async throws {
        _ = try await pool.withConnection { connection in
            try connection.query("""
                UPDATE destinations AS d SET failures = d.failures + 1, last_error = $4, last_failure_at = now(),
                    retry_at = now() + least($3::float8, $2 * power(2, least(d.failures, 40))) * interval '1 millisecond',
                    lease_until = CASE WHEN d.lease_owner = $5 THEN NULL ELSE d.lease_until END,
                    lease_owner = CASE WHEN d.lease_owner = $5 THEN NULL ELSE d.lease_owner END
                WHERE d.destination = $1
                """, [.text(batch.destination), .int(Self.milliseconds(backoff.base)), .int(Self.milliseconds(backoff.maximum)),
                      .text(String(error.prefix(1_000))), .text(batch.owner)])
        }
    }

    /// Deliveries not yet made (due events summed over destinations) and how long the oldest has
    /// waited since its event was stored. Counts every due event — for tests and the load
    /// generator's drain check; the sender's gauges use ``backlogGauge()``.
    public func backlog() async throws -> (events: Int, oldestWait: Duration?) {
        let serverName = serverName
        return try await pool.withConnection { connection in
            let result = try connection.query("""
                SELECT coalesce(sum(b.due), 0), (extract(epoch FROM now() - min(b.oldest)) * 1000)::bigint
                FROM room_joined_servers j
                LEFT JOIN destinations d ON d.destination = j.server_name
                CROSS JOIN LATERAL (
                    SELECT count(*) AS due, min(e.stored_at) AS oldest FROM events e
                    WHERE \(Self.dueEventConditions)) b
                WHERE j.server_name <> $1
                """, [.text(serverName)])
            guard let row = result.rows.first, let count = row.int64(0) else { throw StorageError.malformedRow("backlog") }
            return (Int(count), row.int64(1).map { Duration.milliseconds($0) })
        }
    }

    /// The backlog gauges, at the cost of one index probe per (room, server) pair whatever the
    /// backlog's size: for each destination with something due, the stream positions from its
    /// oldest due event to the stream's last accepted event (summed over destinations: 0 when
    /// nothing is due; at least the number of due deliveries, more when other rooms' or imported
    /// events lie between), and how long the oldest due event has waited since it was stored.
    public func backlogGauge() async throws -> (positions: Int, oldestWait: Duration?) {
        let serverName = serverName
        return try await pool.withConnection { connection in
            let result = try connection.query("""
                WITH first_due AS (
                    SELECT min(b.stream_ordering) AS first, min(b.stored_at) AS oldest
                    FROM room_joined_servers j
                    LEFT JOIN destinations d ON d.destination = j.server_name
                    CROSS JOIN LATERAL (
                        SELECT e.stream_ordering, e.stored_at FROM events e
                        WHERE \(Self.dueEventConditions) ORDER BY e.room_id, e.stream_ordering LIMIT 1) b
                    WHERE j.server_name <> $1
                    GROUP BY j.server_name)
                SELECT coalesce(sum(h.head - f.first + 1), 0), (extract(epoch FROM now() - min(f.oldest)) * 1000)::bigint
                FROM first_due f
                CROSS JOIN (SELECT max(stream_ordering) AS head FROM events WHERE accepted) h
                """, [.text(serverName)])
            guard let row = result.rows.first, let count = row.int64(0) else { throw StorageError.malformedRow("backlog gauge") }
            return (Int(clamping: count), row.int64(1).map { Duration.milliseconds($0) })
        }
    }

    /// An event `e` due to the server of `room_joined_servers` row `j`, whose destination row is `d`.
    /// The position bound is a row comparison, which only the `(room_id, stream_ordering)` index
    /// can take as its condition: on `stream_ordering` alone the planner chose the stream's index,
    /// walking every room's events after the position.
    private static let dueEventConditions = """
        e.accepted AND e.room_id = j.room_id
        AND (e.room_id, e.stream_ordering) > (j.room_id, greatest(coalesce(d.stream_position, 0), j.since_position))
        AND (j.joined_members > 0 OR e.stream_ordering < j.left_position)
        AND user_server(e.sender) <> j.server_name
        """

    /// Whole milliseconds, saturating (a lease or back-off beyond 292 million years is not a concern).
    private static func milliseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        let (whole, overflow) = seconds.multipliedReportingOverflow(by: 1_000)
        return overflow ? (seconds < 0 ? .min : .max) : whole &+ attoseconds / 1_000_000_000_000_000
    }
}
