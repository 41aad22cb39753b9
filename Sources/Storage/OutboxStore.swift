import MatrixCore
import Postgres

/// One event to deliver to one destination, as claimed by a sender.
public struct OutboxDelivery: Sendable, Equatable {
    public let roomID: String
    public let eventID: String
    public let destination: String
    /// Tries so far, this claim included.
    public let attempts: Int
    /// The PDU as stored (with our signature), ready to put in a transaction.
    public let pdu: [UInt8]

    public init(roomID: String, eventID: String, destination: String, attempts: Int, pdu: [UInt8]) {
        self.roomID = roomID
        self.eventID = eventID
        self.destination = destination
        self.attempts = attempts
        self.pdu = pdu
    }
}

/// Per-destination exponential back-off: after the n-th consecutive failure a destination waits
/// `min(maximum, base · 2^(n−1))` before its next try.
public struct BackoffPolicy: Sendable {
    public var base: Duration
    public var maximum: Duration

    public init(base: Duration = .seconds(1), maximum: Duration = .seconds(3_600)) {
        self.base = base
        self.maximum = maximum
    }
}

/// The forwarding outbox that `store_leave` fills (sql/README.md, "Outbox"): senders in any worker
/// claim due deliveries with a lease (`FOR UPDATE SKIP LOCKED`), then mark them sent or failed.
/// Times are the database's clock, so every worker agrees on leases and back-off.
public final class OutboxStore: Sendable {
    let pool: PostgresPool

    public init(pool: PostgresPool) {
        self.pool = pool
    }

    /// Destinations with deliveries due now, unclaimed and not backed off, longest-waiting first.
    public func dueDestinations(limit: Int) async throws -> [String] {
        try await pool.withConnection { connection in
            try connection.query("""
                SELECT o.destination FROM outbox o LEFT JOIN destinations d ON d.destination = o.destination
                WHERE o.state = 'pending' AND o.next_attempt_at <= now()
                  AND (o.claimed_until IS NULL OR o.claimed_until < now())
                  AND (d.retry_at IS NULL OR d.retry_at <= now())
                GROUP BY o.destination ORDER BY min(o.created_at) LIMIT $1
                """, [.int(Int64(max(0, limit)))]).rows.compactMap { $0.string(0) }
        }
    }

    /// Claims up to `limit` due deliveries to `destination` (oldest first) for `lease`: no other
    /// claim gets them until the lease ends, after which they are due again (a sender that died).
    /// Nothing is claimed while the destination is backed off.
    public func claim(destination: String, limit: Int, lease: Duration) async throws -> [OutboxDelivery] {
        try await pool.withConnection { connection in
            let result = try connection.query("""
                WITH due AS (
                    SELECT room_id, event_id FROM outbox
                    WHERE destination = $1 AND state = 'pending' AND next_attempt_at <= now()
                      AND (claimed_until IS NULL OR claimed_until < now())
                      AND NOT EXISTS (SELECT 1 FROM destinations WHERE destination = $1 AND retry_at > now())
                    ORDER BY created_at LIMIT $2
                    FOR UPDATE SKIP LOCKED),
                claimed AS (
                    UPDATE outbox o SET claimed_until = now() + $3 * interval '1 millisecond', attempts = o.attempts + 1
                    FROM due WHERE o.room_id = due.room_id AND o.event_id = due.event_id AND o.destination = $1
                    RETURNING o.room_id, o.event_id, o.attempts, o.created_at)
                SELECT c.room_id, c.event_id, c.attempts, e.pdu
                FROM claimed c \(EventColumns.joinEvent(roomID: "c.room_id", eventID: "c.event_id"))
                ORDER BY c.created_at, e.stream_ordering
                """, [.text(destination), .int(Int64(max(0, limit))), .int(lease.saturatingMilliseconds)])
            return try result.rows.map { row throws(StorageError) in
                guard let roomID = row.string(0), let eventID = row.string(1), let attempts = row.int64(2),
                      let pdu = row.bytes(3) else {
                    throw .malformedRow("claimed outbox row")
                }
                return OutboxDelivery(roomID: roomID, eventID: eventID, destination: destination, attempts: Int(attempts), pdu: pdu)
            }
        }
    }

    /// The destination accepted these deliveries: they are done, and its back-off is cleared.
    public func markSent(_ deliveries: [OutboxDelivery]) async throws {
        for (destination, batch) in Dictionary(grouping: deliveries, by: \.destination) {
            let rooms = PostgresValue.textArray(batch.map(\.roomID))
            let events = PostgresValue.textArray(batch.map(\.eventID))
            _ = try await pool.withConnection { connection in
                try connection.query("""
                    WITH sent AS (
                        UPDATE outbox o SET state = 'sent', sent_at = now(), claimed_until = NULL
                        FROM unnest($2::text[], $3::text[]) AS b(room_id, event_id)
                        WHERE o.destination = $1 AND o.room_id = b.room_id AND o.event_id = b.event_id)
                    INSERT INTO destinations AS d (destination, last_success_at) VALUES ($1, now())
                    ON CONFLICT (destination) DO UPDATE
                        SET failures = 0, retry_at = NULL, last_error = NULL, last_success_at = now()
                    """, [.text(destination), rooms, events])
            }
        }
    }

    /// The destination could not take these deliveries: they are released, and the destination is
    /// backed off (its consecutive failures counted) — for every worker, since it lives in Postgres.
    public func markFailed(_ deliveries: [OutboxDelivery], error: String, backoff: BackoffPolicy = BackoffPolicy()) async throws {
        for (destination, batch) in Dictionary(grouping: deliveries, by: \.destination) {
            let parameters: [PostgresValue] = [
                .text(destination), .textArray(batch.map(\.roomID)), .textArray(batch.map(\.eventID)),
                .int(backoff.base.saturatingMilliseconds), .int(backoff.maximum.saturatingMilliseconds), .text(String(error.prefix(1_000))),
            ]
            _ = try await pool.withConnection { connection in
                try connection.query("""
                    WITH backed_off AS (
                        INSERT INTO destinations AS d (destination, failures, retry_at, last_error, last_failure_at)
                        VALUES ($1, 1, now() + least($4, $5) * interval '1 millisecond', $6, now())
                        ON CONFLICT (destination) DO UPDATE
                            SET failures = d.failures + 1, last_error = EXCLUDED.last_error, last_failure_at = now(),
                                retry_at = now() + least($5::float8, $4 * power(2, least(d.failures, 40))) * interval '1 millisecond'
                        RETURNING retry_at)
                    UPDATE outbox o SET claimed_until = NULL, next_attempt_at = (SELECT retry_at FROM backed_off)
                    FROM unnest($2::text[], $3::text[]) AS b(room_id, event_id)
                    WHERE o.destination = $1 AND o.room_id = b.room_id AND o.event_id = b.event_id AND o.state = 'pending'
                    """, parameters)
            }
        }
    }

    /// Deliveries not yet sent, and how long the oldest has waited — for metrics.
    public func pendingSummary() async throws -> (pending: Int, oldestWait: Duration?) {
        try await pool.withConnection { connection in
            let result = try connection.query("""
                SELECT count(*), (extract(epoch FROM now() - min(created_at)) * 1000)::bigint
                FROM outbox WHERE state = 'pending'
                """)
            guard let row = result.rows.first, let count = row.int64(0) else { throw StorageError.malformedRow("outbox summary") }
            return (Int(count), row.int64(1).map { Duration.milliseconds($0) })
        }
    }

    /// The advisory lock a pruning transaction holds ("lwprunes" in ASCII): one pruner at a time.
    public static let pruneLockKey: Int64 = 0x6C77_7072_756E_6573

    /// Deletes up to `limit` deliveries sent more than `age` ago; returns how many, or nil when
    /// another worker is pruning (it holds the transaction-scoped advisory lock; no session lock
    /// is ever left behind).
    public func pruneSent(olderThan age: Duration, limit: Int = 10_000) async throws -> Int? {
        try await pool.withConnection { connection in
            try connection.transaction { connection -> Int? in
                let locked = try connection.query("SELECT pg_try_advisory_xact_lock($1)", [.int(Self.pruneLockKey)])
                guard locked.rows.first?.bool(0) == true else { return nil }
                return try connection.query("""
                    DELETE FROM outbox o
                    USING (SELECT room_id, event_id, destination FROM outbox
                           WHERE state = 'sent' AND sent_at < now() - $1 * interval '1 millisecond' LIMIT $2) AS old
                    WHERE o.room_id = old.room_id AND o.event_id = old.event_id AND o.destination = old.destination
                    """, [.int(age.saturatingMilliseconds), .int(Int64(max(1, limit)))]).affectedRows
            }
        }
    }
}
