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
    fileprivate static let stateEntriesSQL = """
        SELECT 's', \(EventColumns.selectPDU) FROM \(EventColumns.currentStateEvents(roomID: "$1", types: "$2", stateKeys: "$3"))
        UNION ALL
        """

    /// `templateContext`'s statement, built once: state entries, then up to $4 extremities tagged
    /// `'x'`, deepest (then newest) first. The candidates come from `deepest_extremities`
    /// (`sql/0015`, `sql/0017`, `sql/0018`): the $4 deepest rows of
    /// `forward_extremities_deepest_known` that carry their event's depth, and any row that does
    /// not (normally none) — about $4 index entries and event probes whatever the room's
    /// extremity count, and never a scan of the churning table.
    static let templateContextSQL = stateEntriesSQL + """

        (SELECT 'x', \(EventColumns.selectPDU)
         FROM deepest_extremities($1, $4) f
         \(EventColumns.joinEvent(roomID: "$1", eventID: "f.extremity_id"))
         ORDER BY e.depth DESC, e.stream_ordering DESC LIMIT $4)
        """

    /// The state entries and forward extremities a `make_leave` template is built from: one
    /// statement, one round trip.
    public func templateContext(
        roomID: String, stateKeys: [(type: String, stateKey: String)], extremityLimit: Int
    ) async throws(StorageError) -> TemplateContext {
        let groups = try await StorageError.translating {
            try await pool.taggedEvents(
                Self.templateContextSQL, roomID: roomID, stateKeys: stateKeys, parameters: [.int(Int64(max(0, extremityLimit)))])
        }
        return TemplateContext(state: groups["s"] ?? [], extremities: groups["x"] ?? [])
    }

    /// The state entries, cited events and replay status a `send_leave` is decided on, in one
    /// statement — shared, under load, with other send_leaves' reads (``LeaveContextReads``).
    /// IDs and state keys are matched with `=` on `text`, which is byte equality: under a
    /// deterministic collation (every collation the schema uses) strings that differ in their
    /// bytes are never equal, so `$\u{212A}…` never finds `$K…` (relied on by the byte-for-byte
    /// identifier rule).
    public func leaveContext(
        roomID: String, eventID: String, stateKeys: [(type: String, stateKey: String)], citedEventIDs: [String]
    ) async throws(StorageError) -> LeaveContext {
        let request = LeaveContextRequest(roomID: roomID, eventID: eventID, stateKeys: stateKeys, citedEventIDs: citedEventIDs)
        return try await StorageError.translating { try await contextReads.read(request) }
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

/// Reads send_leave contexts for `RoomStore` (through its ``LeaveContextReads``): one alone, or
/// several with one statement.
struct LeaveContextReader: Sendable {
    let pool: PostgresPool

    /// One send_leave's statement, built once: state entries, the cited events in $4 tagged `'c'`,
    /// and the event $5 itself tagged `'r'` if stored.
    private static let oneSQL = RoomStore.stateEntriesSQL + """

        SELECT 'c', \(EventColumns.selectPDU) FROM \(EventColumns.eventsByID(roomID: "$1", eventIDs: "$4"))
        UNION ALL
        SELECT 'r', \(EventColumns.selectPDU) FROM events e WHERE e.room_id = $1 AND e.event_id = $5
        """

    /// Several send_leaves' statement, built once: `oneSQL`'s three parts, every row led by the
    /// index of the request it answers — state entries from $1–$4 (index, room, type, state key),
    /// cited events from $5–$7 (index, room, ID), the events themselves from $8–$10 (index, room,
    /// ID). The same full-key lookups as `oneSQL` (``EventColumns``), one per entry.
    static let manySQL = """
        SELECT k.n, 's', \(EventColumns.selectPDU)
        FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS k(n, room_id, type, state_key)
        \(EventColumns.joinStateEvent(roomID: "k.room_id", type: "k.type", stateKey: "k.state_key"))
        UNION ALL
        SELECT c.n, 'c', \(EventColumns.selectPDU)
        FROM (SELECT DISTINCT * FROM unnest($5::text[], $6::text[], $7::text[]) AS c(n, room_id, event_id)) c
        \(EventColumns.joinEvent(roomID: "c.room_id", eventID: "c.event_id"))
        UNION ALL
        SELECT r.n, 'r', \(EventColumns.selectPDU)
        FROM unnest($8::text[], $9::text[], $10::text[]) AS r(n, room_id, event_id)
        \(EventColumns.joinEvent(roomID: "r.room_id", eventID: "r.event_id"))
        """

    /// One send_leave's context, with `oneSQL`.
    @Sendable func read(_ request: LeaveContextRequest) async throws -> LeaveContext {
        let groups = try await pool.taggedEvents(
            Self.oneSQL, roomID: request.roomID, stateKeys: request.stateKeys,
            parameters: [.textArray(request.citedEventIDs), .text(request.eventID)])
        return LeaveContext(state: groups["s"] ?? [], cited: groups["c"] ?? [], alreadyStored: groups["r"] != nil)
    }

    /// The contexts of `requests`, in order.
    @Sendable func read(_ requests: [LeaveContextRequest]) async throws -> [LeaveContext] {
        var keyIndex: [String] = [], keyRoom: [String] = [], keyType: [String] = [], keyState: [String] = []
        var citedIndex: [String] = [], citedRoom: [String] = [], citedID: [String] = []
        for (index, request) in requests.enumerated() {
            for key in request.stateKeys {
                keyIndex.append(String(index))
                keyRoom.append(request.roomID)
                keyType.append(key.type)
                keyState.append(key.stateKey)
            }
            for id in request.citedEventIDs {
                citedIndex.append(String(index))
                citedRoom.append(request.roomID)
                citedID.append(id)
            }
        }
        let parameters: [PostgresValue] = [
            .textArray(keyIndex), .textArray(keyRoom), .textArray(keyType), .textArray(keyState),
            .textArray(citedIndex), .textArray(citedRoom), .textArray(citedID),
            .textArray(requests.indices.map { String($0) }), .textArray(requests.map(\.roomID)),
            .textArray(requests.map(\.eventID)),
        ]
        let rows = try await pool.withConnection { connection in
            try connection.query(Self.manySQL, parameters).rows.map { row throws(StorageError) in
                (index: row.string(0).flatMap { Int($0) }, tag: row.string(1), event: try StoredPDU(row: row, offset: 2))
            }
        }
        var state = Array(repeating: [StoredPDU](), count: requests.count)
        var cited = state
        var stored = Array(repeating: false, count: requests.count)
        for row in rows {
            guard let index = row.index, requests.indices.contains(index) else {
                throw StorageError.malformedRow("leave context row for no request")
            }
            switch row.tag {
            case "s": state[index].append(row.event)
            case "c": cited[index].append(row.event)
            case "r": stored[index] = true
            default: throw StorageError.malformedRow("leave context row of an unknown part")
            }
        }
        return requests.indices.map { LeaveContext(state: state[$0], cited: cited[$0], alreadyStored: stored[$0]) }
    }
}

extension PostgresPool {
    /// Runs `sql` (a single-request statement above) with the room and state keys as $1–$3 and
    /// `parameters` after them; returns the events grouped by the tag in the first column.
    fileprivate func taggedEvents(
        _ sql: String, roomID: String, stateKeys: [(type: String, stateKey: String)], parameters: [PostgresValue]
    ) async throws -> [String: [StoredPDU]] {
        let bound: [PostgresValue] = [
            .text(roomID), .textArray(stateKeys.map(\.type)), .textArray(stateKeys.map(\.stateKey)),
        ] + parameters
        return try await withConnection { connection in
            var groups: [String: [StoredPDU]] = [:]
            for row in try connection.query(sql, bound).rows {
                groups[row.string(0) ?? "", default: []].append(try StoredPDU(row: row, offset: 1))
            }
            return groups
        }
    }
}
