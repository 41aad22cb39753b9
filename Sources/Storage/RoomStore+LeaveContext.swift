import Postgres

/// What `send_leave` reads before deciding, in one round trip.
public struct LeaveContext: Sendable {
    /// The current-state events at the requested (type, state key) entries that exist.
    public let state: [StoredPDU]
    /// The room's events among the cited IDs (auth and prev events); unknown IDs are absent.
    public let cited: [StoredPDU]
    /// Whether the event itself is already stored in this room (a replayed `send_leave`).
    public let alreadyStored: Bool
}

/// What `make_leave` reads to build a template, in one round trip.
public struct TemplateContext: Sendable {
    /// The current-state events at the requested (type, state key) entries that exist.
    public let state: [StoredPDU]
    /// Up to the requested number of forward extremities, deepest (then newest) first.
    public let extremities: [StoredPDU]
}

extension RoomStore {
    /// The rows tagged `'s'`: current-state events at the (type, state key) pairs in $2/$3 of room $1.
    private static let stateEntriesSQL = """
        SELECT 's', \(EventColumns.selectPDU) FROM \(EventColumns.currentStateEvents(roomID: "$1", types: "$2", stateKeys: "$3"))
        UNION ALL
        """

    /// `templateContext`'s statement, built once: state entries, then up to $4 extremities tagged
    /// `'x'`, deepest (then newest) first. The candidates come from `deepest_extremities`
    /// (`sql/0015`, `sql/0017`): the $4 deepest rows of `forward_extremities_deepest` that carry
    /// their event's depth, and any row that does not (normally none) — about $4 index entries and
    /// event probes whatever the room's extremity count, and never a scan of the churning table.
    static let templateContextSQL = stateEntriesSQL + """

        (SELECT 'x', \(EventColumns.selectPDU)
         FROM deepest_extremities($1, $4) f
         \(EventColumns.joinEvent(roomID: "$1", eventID: "f.extremity_id"))
         ORDER BY e.depth DESC, e.stream_ordering DESC LIMIT $4)
        """

    /// `leaveContext`'s statement, built once: state entries, the cited events in $4 tagged `'c'`,
    /// and the event $5 itself tagged `'r'` if stored.
    private static let leaveContextSQL = stateEntriesSQL + """

        SELECT 'c', \(EventColumns.selectPDU) FROM \(EventColumns.eventsByID(roomID: "$1", eventIDs: "$4"))
        UNION ALL
        SELECT 'r', \(EventColumns.selectPDU) FROM events e WHERE e.room_id = $1 AND e.event_id = $5
        """

    /// Runs `sql` (one of the statements above) with the room and state keys as $1–$3 and
    /// `parameters` after them; returns the events grouped by the tag in the first column.
    private func taggedEvents(
        _ sql: String, roomID: String, stateKeys: [(type: String, stateKey: String)], parameters: [PostgresValue]
    ) async throws(StorageError) -> [String: [StoredPDU]] {
        let bound: [PostgresValue] = [
            .text(roomID), .textArray(stateKeys.map(\.type)), .textArray(stateKeys.map(\.stateKey)),
        ] + parameters
        return try await StorageError.translating { try await pool.withConnection { connection in
            var groups: [String: [StoredPDU]] = [:]
            for row in try connection.query(sql, bound).rows {
                groups[row.string(0) ?? "", default: []].append(try StoredPDU(row: row, offset: 1))
            }
            return groups
        } }
    }

    /// The state entries and forward extremities a `make_leave` template is built from: one
    /// statement, one round trip.
    public func templateContext(
        roomID: String, stateKeys: [(type: String, stateKey: String)], extremityLimit: Int
    ) async throws(StorageError) -> TemplateContext {
        let groups = try await taggedEvents(
            Self.templateContextSQL, roomID: roomID, stateKeys: stateKeys, parameters: [.int(Int64(max(0, extremityLimit)))])
        return TemplateContext(state: groups["s"] ?? [], extremities: groups["x"] ?? [])
    }

    /// The state entries, cited events and replay status a `send_leave` is decided on: one
    /// statement, one round trip (the three parts are tagged by the first column). IDs and state
    /// keys are matched with `=` on `text`, which is byte equality: under a deterministic collation
    /// (every collation the schema uses) strings that differ in their bytes are never equal, so
    /// `$\u{212A}…` never finds `$K…` (relied on by the byte-for-byte identifier rule).
    public func leaveContext(
        roomID: String, eventID: String, stateKeys: [(type: String, stateKey: String)], citedEventIDs: [String]
    ) async throws(StorageError) -> LeaveContext {
        let groups = try await taggedEvents(
            Self.leaveContextSQL, roomID: roomID, stateKeys: stateKeys, parameters: [.textArray(citedEventIDs), .text(eventID)])
        return LeaveContext(state: groups["s"] ?? [], cited: groups["c"] ?? [], alreadyStored: groups["r"] != nil)
    }

    /// Whether `server` has (or had) a user with any membership in the room — who may read its events.
    public func hasMember(roomID: String, server: String) async throws(StorageError) -> Bool {
        try await StorageError.translating { try await pool.withConnection { connection in
            try connection.query("""
                SELECT EXISTS (SELECT 1 FROM memberships WHERE room_id = $1 AND user_server(user_id) = $2)
                """, [.text(roomID), .text(server)]).rows.first?.bool(0) ?? false
        } }
    }
}
