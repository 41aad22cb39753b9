import Postgres

extension ForwardingStore {
    /// Destinations with events due, not backed off and not leased by another sender (this
    /// sender's own leases are included: a destination it is draining may be due again), at most
    /// `limit`: those without a failure since their last delivery first, then furthest behind first
    /// — so destinations that keep failing (a server that takes connections and never answers holds
    /// a sender's slot for its whole timeout), however far behind, do not go before the healthy
    /// ones whenever their back-off ends (``DueDestinations/failing`` names them, so that the sender
    /// keeps them behind the healthy ones it finds later, too); and the position the scan covered.
    ///
    /// `changedAfter` nil scans every (room, server) pair — one index probe each, O(rooms ×
    /// servers): for the poll timer (leases and back-offs ending, a sender started). A position
    /// (a previous scan's ``DueDestinations/scannedThrough``) looks only at the rooms with accepted
    /// events after it (at most ``changedEventsPerScan`` of them, in stream order) and at their
    /// servers, so a wake-up costs what changed. `safe` is the stream's safe point
    /// (`StreamHorizon`): the incremental scan reads events only up to it and neither scan claims
    /// to have covered more, so an event committed late below it is never passed over (sql/README.md,
    /// "Event stream"). Every read of `events` is a `LATERAL` or
    /// `ORDER BY … LIMIT` subquery, so its position bound is an index condition; a room's probe
    /// starts at (room, position): ``roomEvents(after:through:)``.
    public func dueDestinations(limit: Int, changedAfter position: Int64? = nil, safe: Int64) async throws -> DueDestinations {
        let parameters: [PostgresValue] = [.text(serverName), .int(Int64(max(0, limit))), .text(leaseOwnerPrefix), .int(safe)]
        return try await pool.withConnection { connection in
            let rows = try position.map {
                try connection.query(Self.changedScanSQL, parameters + [.int($0), .int(Int64(Self.changedEventsPerScan))]).rows
            } ?? connection.query(Self.fullScanSQL, parameters).rows
            guard let head = rows.first?.int64(0) else { throw StorageError.malformedRow("due destinations") }
            return DueDestinations(
                destinations: rows.compactMap { $0.string(1) }, scannedThrough: head,
                failing: Set(rows.compactMap { row in row.bool(2) == true ? row.string(1) : nil }))
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

    /// Every (room, server) pair probed for its next due event; the stream's head, at most `$4` (the
    /// safe point). ($1 this server, $2 the limit, $3 the lease-owner prefix, $4 the safe point.)
    static let fullScanSQL = """
        WITH due AS (
            SELECT j.server_name, min(coalesce(d.stream_position, 0)) AS behind, coalesce(bool_or(d.failures > 0), false) AS failing
            FROM room_joined_servers j
            LEFT JOIN destinations d ON d.destination = j.server_name
            CROSS JOIN LATERAL (
                SELECT e.stream_ordering FROM events e
                WHERE \(roomEvents(after: "greatest(coalesce(d.stream_position, 0), j.since_position)"))
                ORDER BY e.room_id, e.stream_ordering LIMIT 1) next
            WHERE \(dueConditions) AND (j.joined_members > 0 OR next.stream_ordering < j.left_position)
            GROUP BY j.server_name ORDER BY failing, behind, server_name LIMIT $2)
        SELECT least($4, (SELECT coalesce(max(stream_ordering), 0) FROM events)), due.server_name, due.failing
        FROM (SELECT 1) one LEFT JOIN due ON true ORDER BY due.failing, due.behind, due.server_name
        """

    /// The servers of the rooms with accepted events after `$5` and at most `$4` (the safe point;
    /// the first `$6` such events): a
    /// server is due when the room's last of them is after its position. A server whose last
    /// member left may be a false positive (nothing due before its left_position): the claim then
    /// finds nothing and moves its position on. The window's end: the last event read when `$5`
    /// were read, else the stream's head, at most the safe point.
    private static let changedScanSQL = """
        WITH window_events AS (
            SELECT e.room_id, e.stream_ordering FROM events e
            WHERE e.accepted AND e.stream_ordering > $5 AND e.stream_ordering <= $4
            ORDER BY e.stream_ordering LIMIT $6),
        changed AS (SELECT room_id, max(stream_ordering) AS last FROM window_events GROUP BY room_id),
        due AS (
            SELECT j.server_name, min(coalesce(d.stream_position, 0)) AS behind, coalesce(bool_or(d.failures > 0), false) AS failing
            FROM changed c
            JOIN room_joined_servers j ON j.room_id = c.room_id
            LEFT JOIN destinations d ON d.destination = j.server_name
            WHERE \(dueConditions)
              AND c.last > greatest(coalesce(d.stream_position, 0), j.since_position)
              AND \(stillOwed)
            GROUP BY j.server_name ORDER BY failing, behind, server_name LIMIT $2)
        SELECT CASE WHEN (SELECT count(*) FROM window_events) >= $6 THEN (SELECT max(stream_ordering) FROM window_events)
                    ELSE least($4, (SELECT coalesce(max(stream_ordering), 0) FROM events)) END,
               due.server_name, due.failing
        FROM (SELECT 1) one LEFT JOIN due ON true ORDER BY due.failing, due.behind, due.server_name
        """
}
