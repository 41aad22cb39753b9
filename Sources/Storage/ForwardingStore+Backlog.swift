import Postgres

extension ForwardingStore {
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
                WHERE j.server_name <> $1 AND \(Self.stillOwed)
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
            let result = try connection.query(Self.backlogGaugeSQL, [.text(serverName)])
            guard let row = result.rows.first, let count = row.int64(0) else { throw StorageError.malformedRow("backlog gauge") }
            return (Int(clamping: count), row.int64(1).map { Duration.milliseconds($0) })
        }
    }

    /// `backlogGauge`'s statement ($1: this server's name).
    static let backlogGaugeSQL = """
        WITH first_due AS (
            SELECT min(b.stream_ordering) AS first, min(b.stored_at) AS oldest
            FROM room_joined_servers j
            LEFT JOIN destinations d ON d.destination = j.server_name
            CROSS JOIN LATERAL (
                SELECT e.stream_ordering, e.stored_at FROM events e
                WHERE \(dueEventConditions) ORDER BY e.room_id, e.stream_ordering LIMIT 1) b
            WHERE j.server_name <> $1 AND \(stillOwed)
            GROUP BY j.server_name)
        SELECT coalesce(sum(h.head - f.first + 1), 0), (extract(epoch FROM now() - min(f.oldest)) * 1000)::bigint
        FROM first_due f
        CROSS JOIN (SELECT max(stream_ordering) AS head FROM events WHERE accepted) h
        """

    /// Whether the server of `room_joined_servers` row `j` (destination row `d`) may be owed events:
    /// it has members, or it left after its position. Checked before probing the room: a server
    /// that left and had its leaves keeps its row and its position where it left, and the probe
    /// from there walked every event accepted in the room since (its bound is a filter, not an
    /// index condition).
    static let stillOwed =
        "(j.joined_members > 0 OR j.left_position > greatest(coalesce(d.stream_position, 0), j.since_position))"

    /// An event `e` due to the server of `room_joined_servers` row `j`, whose destination row is `d`
    /// (read from the destination's position: ``roomEvents(after:through:)``).
    private static let dueEventConditions = """
        \(roomEvents(after: "greatest(coalesce(d.stream_position, 0), j.since_position)"))
        AND (j.joined_members > 0 OR e.stream_ordering < j.left_position)
        AND user_server(e.sender) <> j.server_name
        """
}
