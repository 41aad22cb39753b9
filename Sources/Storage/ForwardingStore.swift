import Postgres
import Synchronization

/// The federation sender's side of the event stream (sql/README.md, "Forwarding"): each
/// destination has a stream position in `destinations`; its due events are the accepted events
/// after it in the rooms where it has (or had, when the event was stored) joined members, not sent
/// by it. A sender claims a destination with a lease, sends a batch, then advances the position —
/// one statement each (after a full batch, the advance and the next claim are one), on the
/// database's clock, so every worker agrees on leases and back-off.
public final class ForwardingStore: Sendable {
    let pool: PostgresPool
    /// This server: never a destination.
    let serverName: String
    private let ownerPrefix = String(UInt64.random(in: 0...UInt64.max), radix: 36)
    /// How this sender's lease owners (`<ownerPrefix>.<n>`) begin.
    var leaseOwnerPrefix: String { ownerPrefix + "." }
    private let claims = Atomic<UInt64>(0)

    public init(pool: PostgresPool, serverName: String) {
        self.pool = pool
        self.serverName = serverName
    }

    /// Claims `destination` for `lease` and reads its next due events (at most `limit`, in stream
    /// order) up to `safe`, the stream's safe point (`StreamHorizon`: nothing at or below it commits
    /// later); nil when another sender holds it, it is backed off, or it is this server. A batch
    /// whose sender dies is claimed again from the same position when the lease ends
    /// (at-least-once; a short batch may come with more events: ``ForwardingBatch/transactionID``).
    public func claim(destination: String, limit: Int, lease: Duration, safe: Int64) async throws -> ForwardingBatch? {
        let owner = nextOwner()
        let limit = max(1, limit)
        return try await readBatch(Self.claimSQL, [
            .text(destination), .int(Int64(limit)), .int(Self.milliseconds(lease)), .text(owner), .text(serverName), .int(safe),
        ], destination: destination, owner: owner, limit: limit, safe: safe)
    }

    /// ``complete(_:delivered:)`` and, while `batch`'s lease is still ours, ``claim(destination:limit:lease:safe:)``
    /// of the destination's next batch — one statement instead of two: the sender's drain uses it
    /// after a full batch, when more is due (in a room of many servers nearly every transaction
    /// carries a full batch, and each statement is a round trip, a commit and a pool hop). The
    /// position moves and the back-off clears exactly as ``complete(_:delivered:)`` does; the lease
    /// passes to the next batch's owner token and runs `lease` from now. Nil when the lease was no
    /// longer ours (it ended and another sender took the destination): the position still moved
    /// (`greatest`), the other sender's lease is untouched.
    ///
    /// The claimed events at the stream positions in `holding` come without their PDU (nil): the
    /// caller already holds those (the sender's cache of encoded PDUs — in a room of many servers
    /// each event goes to every destination, and its ≈ 800 bytes crossed from Postgres to the worker
    /// once per destination). ``pdus(at:)`` reads any the caller turns out not to have.
    public func complete(_ batch: ForwardingBatch, delivered: Bool, thenClaimUpTo limit: Int, lease: Duration, safe: Int64,
                         holding: [Int64] = []) async throws -> ForwardingBatch?
    {
        let owner = nextOwner()
        let limit = max(1, limit)
        return try await readBatch(Self.completeAndClaimSQL, [
            .text(batch.destination), .int(Int64(limit)), .int(Self.milliseconds(lease)), .text(owner), .text(serverName), .int(safe),
            .int(batch.through), .text(batch.owner), .bool(delivered), .int8Array(holding),
        ], destination: batch.destination, owner: owner, limit: limit, safe: safe)
    }

    /// The stored PDUs of the accepted events at `positions`, by position, with their event IDs
    /// (positions that hold no event are absent).
    public func pdus(at positions: [Int64]) async throws -> [Int64: (eventID: String, pdu: [UInt8])] {
        try await pool.withConnection { connection in
            var found: [Int64: (eventID: String, pdu: [UInt8])] = [:]
            for row in try connection.query(
                "SELECT stream_ordering, event_id, pdu FROM events WHERE stream_ordering = ANY($1) AND accepted",
                [.int8Array(positions)]
            ).rows {
                guard let position = row.int64(0), let eventID = row.string(1), let pdu = row.bytes(2) else {
                    throw StorageError.malformedRow("stored PDU")
                }
                found[position] = (eventID, pdu)
            }
            return found
        }
    }

    /// A fresh lease owner token, unique to this sender.
    private func nextOwner() -> String {
        "\(ownerPrefix).\(claims.wrappingAdd(1, ordering: .relaxed).newValue)"
    }

    /// Runs a claiming statement (``claimTail``'s columns) and reads the batch it claimed; nil when
    /// it claimed nothing.
    private func readBatch(_ sql: String, _ parameters: [PostgresValue], destination: String, owner: String, limit: Int, safe: Int64)
        async throws -> ForwardingBatch?
    {
        try await pool.withConnection { connection in
            let rows = try connection.query(sql, parameters).rows
            guard let first = rows.first else { return nil }
            guard let after = first.int64(0) else { throw StorageError.malformedRow("claim") }
            var events: [ForwardedEvent] = []
            for row in rows {
                guard let roomID = row.string(1) else { continue }   // claimed, nothing due
                guard let eventID = row.string(2), let position = row.int64(3) else {
                    throw StorageError.malformedRow("due event")
                }
                // `pdu` is NOT NULL in `events`: NULL here is a PDU left out (the caller holds it).
                events.append(ForwardedEvent(roomID: roomID, eventID: eventID, streamPosition: position, pdu: row.bytes(4)))
            }
            // Fewer than the limit: these are all the destination's due events up to the safe
            // point (nothing at or below it commits later).
            let through = events.count == limit ? events[events.count - 1].streamPosition : max(after, safe)
            return ForwardingBatch(destination: destination, owner: owner, after: after, events: events, through: through)
        }
    }

    /// The conditions on an `events` row `e` of room `j.room_id` (a `room_joined_servers` row)
    /// after stream position `position`, and at most `last` when given (SQL expressions): every
    /// read of a room's events for a destination — the claim, the full scan's probes, the backlog
    /// gauge — is built on them, so that each is one range of the partial index on `(room_id,
    /// stream_ordering)` starting at (room, position), whether the tables have statistics or not.
    /// The room is a closed range (`>=` and `<=`: the rows of `=`, since under the schema's
    /// deterministic collations only byte-equal strings compare equal) and the bounds are row
    /// comparisons. The forms this replaced, measured (`ForwardingScanTests`, and a 12,005-event
    /// room of 100 servers): `e.room_id = j.room_id` beside the row comparison made the equality the
    /// btree's start key, so each probe read the room's whole index range (the gauge: 51 buffers,
    /// 0.19 ms a probe, 19.2–19.6 ms; now 0.46–0.51 ms); equality with plain `stream_ordering`
    /// bounds let the analyzed planner walk the stream's index from a far-behind destination's
    /// position through every room's later events; row comparisons alone took the primary key's
    /// range over the room when nothing was analyzed.
    static func roomEvents(after position: String, through last: String? = nil) -> String {
        let after = "e.accepted AND e.room_id >= j.room_id AND e.room_id <= j.room_id "
            + "AND (e.room_id, e.stream_ordering) > (j.room_id, \(position))"
        return last.map { after + " AND (e.room_id, e.stream_ordering) <= (j.room_id, \($0))" } ?? after
    }

    /// `claim`'s statement: $1 the destination, $2 the limit, $3 the lease in milliseconds, $4 the
    /// lease's owner, $5 this server, $6 the safe point. The lease is taken by inserting or updating
    /// the destination's row where its lease ended and it is not backed off.
    static let claimSQL = """
        WITH claimed AS (
            INSERT INTO destinations AS d (destination, lease_until, lease_owner)
            SELECT $1, now() + $3 * interval '1 millisecond', $4 WHERE $1 <> $5
            ON CONFLICT (destination) DO UPDATE SET lease_until = EXCLUDED.lease_until, lease_owner = EXCLUDED.lease_owner
                WHERE (d.lease_until IS NULL OR d.lease_until < now()) AND (d.retry_at IS NULL OR d.retry_at <= now())
            RETURNING d.stream_position, true AS is_ours),
        \(claimTail(pdu: "u.pdu"))
        """

    /// `complete(_:delivered:thenClaimUpTo:lease:safe:holding:)`'s statement: `claim`'s $1–$6, then
    /// $7 the finished batch's end, $8 its owner, $9 whether it was delivered, $10 the positions whose
    /// PDUs to leave out. The update is `complete`'s,
    /// except that a lease still ours passes to $4 for `lease` from now instead of being released —
    /// unless the destination is backed off and the batch was not delivered (what `claim` refuses).
    static let completeAndClaimSQL = """
        WITH claimed AS (
            UPDATE destinations SET \(completion(through: "$7", delivered: "$9")),
                lease_until = CASE WHEN \(renews) THEN now() + $3 * interval '1 millisecond'
                                   WHEN lease_owner = $8 THEN NULL ELSE lease_until END,
                lease_owner = CASE WHEN \(renews) THEN $4 WHEN lease_owner = $8 THEN NULL ELSE lease_owner END
            WHERE destination = $1 AND $1 <> $5
            RETURNING stream_position, lease_owner = $4 AS is_ours),
        \(claimTail(pdu: "CASE WHEN u.stream_ordering = ANY($10) THEN NULL ELSE u.pdu END"))
        """

    /// Whether the combined statement passes the lease on (old values: an `UPDATE`'s `SET` reads the row as it was).
    private static let renews = "lease_owner = $8 AND ($9 OR retry_at IS NULL OR retry_at <= now())"

    /// The `SET` items a finished batch writes: the position moves to `through` (never back), and
    /// when `delivered` the back-off clears (SQL expressions of the statement's parameters).
    private static func completion(through: String, delivered: String) -> String {
        """
        stream_position = greatest(stream_position, \(through)),
            failures = CASE WHEN \(delivered) THEN 0 ELSE failures END,
            retry_at = CASE WHEN \(delivered) THEN NULL ELSE retry_at END,
            last_error = CASE WHEN \(delivered) THEN NULL ELSE last_error END,
            last_success_at = CASE WHEN \(delivered) THEN now() ELSE last_success_at END
        """
    }

    /// The claiming statements' shared part, after their `claimed` CTE (the destination's position
    /// after the update, and whether the lease is now $4's): the due events from that position to
    /// the safe point, $2 at most, in stream order; one row per event (its PDU as the SQL
    /// expression `pdu` of the due row `u`), or one row of only the position when nothing is due;
    /// no row when the lease is not ours.
    ///
    /// In two steps, so that a claim reads about as many rows as it returns, however many rooms
    /// the destination is behind in: `firsts` reads each room's first due event (one index probe
    /// a room), `bound` is the $2-th smallest of those (the safe point when fewer rooms are due —
    /// the $2 smallest due events are at or below it, since that many rooms have one there), and
    /// only the rooms due by then are read, up to it, each with ``roomEvents(after:through:)``.
    /// Reading $2 events of every room and keeping the $2 smallest read 15,000 rows, 45 ms, to
    /// return 50 for a destination 50 behind in 300 rooms.
    private static func claimTail(pdu: String) -> String {
        let due = { (through: String) in
            """
            \(roomEvents(after: "greatest(c.stream_position, j.since_position)", through: through))
                      AND (j.joined_members > 0 OR e.stream_ordering < j.left_position)
                      AND user_server(e.sender) <> $1
            """
        }
        return """
        firsts AS (
            SELECT j.room_id, j.since_position, j.joined_members, j.left_position, f.stream_ordering AS first_due
            FROM claimed c
            JOIN room_joined_servers j ON j.server_name = $1
                                      AND (j.joined_members > 0 OR j.left_position > c.stream_position)
            CROSS JOIN LATERAL (
                SELECT e.stream_ordering FROM events e
                WHERE \(due("$6"))
                ORDER BY e.room_id, e.stream_ordering LIMIT 1) f
            WHERE c.is_ours),
        bound AS (
            SELECT coalesce((SELECT f.first_due FROM firsts f ORDER BY f.first_due OFFSET $2 - 1 LIMIT 1), $6) AS last),
        due AS (
            SELECT p.room_id, p.event_id, p.stream_ordering, p.pdu
            FROM claimed c CROSS JOIN bound b
            JOIN firsts j ON j.first_due <= b.last
            CROSS JOIN LATERAL (
                SELECT e.room_id, e.event_id, e.stream_ordering, e.pdu FROM events e
                WHERE \(due("b.last"))
                ORDER BY e.room_id, e.stream_ordering LIMIT $2) p
            ORDER BY p.stream_ordering LIMIT $2)
        SELECT c.stream_position, u.room_id, u.event_id, u.stream_ordering, \(pdu)
        FROM claimed c LEFT JOIN due u ON true
        WHERE c.is_ours
        ORDER BY u.stream_ordering
        """
    }

    /// The destination took the batch (or nothing of it could be sent): its position moves to the
    /// batch's end and the lease is released; when `delivered`, its back-off is cleared.
    public func complete(_ batch: ForwardingBatch, delivered: Bool) async throws {
        _ = try await pool.withConnection { connection in
            try connection.query(Self.completeSQL, [.text(batch.destination), .int(batch.through), .text(batch.owner), .bool(delivered)])
        }
    }

    /// `complete`'s statement: $1 the destination, $2 the batch's end, $3 its owner, $4 whether it was delivered.
    private static let completeSQL = """
        UPDATE destinations SET \(completion(through: "$2", delivered: "$4")),
            lease_until = CASE WHEN lease_owner = $3 THEN NULL ELSE lease_until END,
            lease_owner = CASE WHEN lease_owner = $3 THEN NULL ELSE lease_owner END
        WHERE destination = $1
        """

    /// The destination could not take the batch: the lease is released and the destination backed
    /// off (its consecutive failures counted) — for every worker, since it lives in Postgres. Only
    /// while the batch's lease is still its owner's (expired or not): a send that outlived its lease
    /// says nothing about a destination another sender has claimed since, and may just have served.
    /// `error` is stored for the operator, NUL-free (a remote's answer may hold one).
    public func fail(_ batch: ForwardingBatch, error: String, backoff: BackoffPolicy = BackoffPolicy()) async throws {
        _ = try await pool.withConnection { connection in
            try connection.query("""
                UPDATE destinations AS d SET failures = d.failures + 1, last_error = $4, last_failure_at = now(),
                    retry_at = now() + least($3::float8, $2 * power(2, least(d.failures, 40))) * interval '1 millisecond',
                    lease_until = NULL, lease_owner = NULL
                WHERE d.destination = $1 AND d.lease_owner = $5
                """, [.text(batch.destination), .int(Self.milliseconds(backoff.base)), .int(Self.milliseconds(backoff.maximum)),
                      .text(error.prefix(1_000).storableText), .text(batch.owner)])
        }
    }

    /// Whole milliseconds, saturating (a lease or back-off beyond 292 million years is not a concern).
    private static func milliseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        let (whole, overflow) = seconds.multipliedReportingOverflow(by: 1_000)
        return overflow ? (seconds < 0 ? .min : .max) : whole &+ attoseconds / 1_000_000_000_000_000
    }
}
