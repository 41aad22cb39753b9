import Postgres

/// What `send_leave` reads before deciding, in one round trip.
public struct LeaveContext: Sendable {
    /// The current-state events at the requested (type, state key) entries that exist.
    public let state: [StoredPDU]
    /// The room's events among the cited IDs (auth and prev events); unknown IDs are absent. Only
    /// the auth events come with their PDU: a prev event that is not also an auth event need only
    /// exist (its `pdu` is empty) — up to 20 of them, each up to 64 KiB, were read for every request.
    public let cited: [StoredPDU]
    /// Whether the event itself is already stored in this room (a replayed `send_leave`).
    public let alreadyStored: Bool
}

/// What one `send_leave` asks storage before deciding (``RoomStore/leaveContext(roomID:eventID:stateKeys:authEventIDs:prevEventIDs:)``).
struct LeaveContextRequest: Sendable {
    let roomID: String
    let eventID: String
    let stateKeys: [(type: String, stateKey: String)]
    /// Read with their PDUs.
    let authEventIDs: [String]
    /// Prev events that are not auth events too (byte for byte): read without their PDUs.
    let prevOnlyEventIDs: [String]
}

/// What one `make_leave` asks storage for its template (``RoomStore/templateContext(roomID:stateKeys:extremityLimit:)``).
struct TemplateContextRequest: Sendable {
    let roomID: String
    let stateKeys: [(type: String, stateKey: String)]
    let extremityLimit: Int
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

    /// The state entries and forward extremities a `make_leave` template is built from, in one
    /// statement — shared, under load, with other make_leaves' reads (``TemplateContextReads``).
    public func templateContext(
        roomID: String, stateKeys: [(type: String, stateKey: String)], extremityLimit: Int
    ) async throws(StorageError) -> TemplateContext {
        // Keys no stored row can have (a NUL byte: a remote's user ID from the path) find nothing.
        guard roomID.isStorableText else { return TemplateContext(state: [], extremities: []) }
        let stateKeys = stateKeys.filter { $0.type.isStorableText && $0.stateKey.isStorableText }
        let request = TemplateContextRequest(roomID: roomID, stateKeys: stateKeys, extremityLimit: max(0, extremityLimit))
        return try await StorageError.translating { try await templateReads.read(request) }
    }

    /// The state entries, cited events and replay status a `send_leave` is decided on, in one
    /// statement — shared, under load, with other send_leaves' reads (``LeaveContextReads``).
    /// IDs and state keys are matched with `=` on `text`, which is byte equality: under a
    /// deterministic collation (every collation the schema uses) strings that differ in their
    /// bytes are never equal, so `$\u{212A}…` never finds `$K…` (relied on by the byte-for-byte
    /// identifier rule).
    public func leaveContext(
        roomID: String, eventID: String, stateKeys: [(type: String, stateKey: String)], authEventIDs: [String],
        prevEventIDs: [String]
    ) async throws(StorageError) -> LeaveContext {
        let prevOnly = prevEventIDs.filter { id in !authEventIDs.contains { $0.bytesEqual(id) } }
        let request = LeaveContextRequest(
            roomID: roomID, eventID: eventID, stateKeys: stateKeys, authEventIDs: authEventIDs, prevOnlyEventIDs: prevOnly)
        return try await StorageError.translating { try await contextReads.read(request) }
    }

    /// `hasMember`'s statement: a probe of `memberships_by_server` (`sql/0025`), whatever the room's size.
    static let hasMemberSQL = "SELECT room_has_member_of($1, $2)"

    /// Whether `server` has (or had) a user with any membership in the room — who may read its events.
    public func hasMember(roomID: String, server: String) async throws(StorageError) -> Bool {
        try await StorageError.translating { try await pool.withConnection { connection in
            try connection.query(Self.hasMemberSQL, [.text(roomID), .text(server)]).rows.first?.bool(0) ?? false
        } }
    }
}

/// Reads send_leave contexts for `RoomStore` (through its ``LeaveContextReads``): one alone, or
/// several with one statement.
struct LeaveContextReader: Sendable {
    let pool: PostgresPool

    /// One send_leave's statement, built once: state entries, the cited auth events in $4 and
    /// (without their PDUs) prev events in $6 tagged `'c'`, and the event $5 itself tagged `'r'` if
    /// stored (without its PDU).
    private static let oneSQL = RoomStore.stateEntriesSQL + """

        SELECT 'c', \(EventColumns.selectPDU) FROM \(EventColumns.eventsByID(roomID: "$1", eventIDs: "$4"))
        UNION ALL
        SELECT 'c', \(EventColumns.selectWithoutPDU) FROM \(EventColumns.eventsByID(roomID: "$1", eventIDs: "$6"))
        UNION ALL
        SELECT 'r', \(EventColumns.selectWithoutPDU) FROM events e WHERE e.room_id = $1 AND e.event_id = $5
        """

    /// Several send_leaves' statement, built once: `oneSQL`'s parts, every row led by the index
    /// of the request it answers — state entries from $1–$4 (``IndexedStateKeys``), cited events
    /// from $5–$7 and $11 (index, room, ID, `'a'` for an auth event: with its PDU), the events
    /// themselves from $8–$10 (index, room, ID). The same full-key lookups as `oneSQL`
    /// (``EventColumns``), one per entry.
    static let manySQL = IndexedStateKeys.sql + """

        UNION ALL
        SELECT c.n, 'c', e.event_id, e.depth, e.stream_ordering, CASE WHEN c.kind = 'a' THEN e.pdu ELSE '' END
        FROM (SELECT DISTINCT * FROM unnest($5::text[], $6::text[], $7::text[], $11::text[]) AS c(n, room_id, event_id, kind)) c
        \(EventColumns.joinEvent(roomID: "c.room_id", eventID: "c.event_id"))
        UNION ALL
        SELECT r.n, 'r', \(EventColumns.selectWithoutPDU)
        FROM unnest($8::text[], $9::text[], $10::text[]) AS r(n, room_id, event_id)
        \(EventColumns.joinEvent(roomID: "r.room_id", eventID: "r.event_id"))
        """

    /// One send_leave's context, with `oneSQL`.
    @Sendable func read(_ request: LeaveContextRequest) async throws -> LeaveContext {
        let groups = try await pool.taggedEvents(
            Self.oneSQL, roomID: request.roomID, stateKeys: request.stateKeys,
            parameters: [.textArray(request.authEventIDs), .text(request.eventID), .textArray(request.prevOnlyEventIDs)])
        return LeaveContext(state: groups["s"] ?? [], cited: groups["c"] ?? [], alreadyStored: groups["r"] != nil)
    }

    /// The contexts of `requests`, in order.
    @Sendable func read(_ requests: [LeaveContextRequest]) async throws -> [LeaveContext] {
        var citedIndex: [String] = [], citedRoom: [String] = [], citedID: [String] = [], citedKind: [String] = []
        for (index, request) in requests.enumerated() {
            for (ids, kind) in [(request.authEventIDs, "a"), (request.prevOnlyEventIDs, "p")] {
                for id in ids {
                    citedIndex.append(String(index))
                    citedRoom.append(request.roomID)
                    citedID.append(id)
                    citedKind.append(kind)
                }
            }
        }
        let parameters = IndexedStateKeys(requests.map { ($0.roomID, $0.stateKeys) }).parameters + [
            .textArray(citedIndex), .textArray(citedRoom), .textArray(citedID),
            .textArray(requests.indices.map { String($0) }), .textArray(requests.map(\.roomID)),
            .textArray(requests.map(\.eventID)), .textArray(citedKind),
        ]
        var state = Array(repeating: [StoredPDU](), count: requests.count)
        var cited = state
        var stored = Array(repeating: false, count: requests.count)
        try await pool.forEachIndexedEvent(Self.manySQL, parameters, count: requests.count) { index, tag, event in
            switch tag {
            case "s": state[index].append(event)
            case "c": cited[index].append(event)
            case "r": stored[index] = true
            default: throw StorageError.malformedRow("leave context row of an unknown part")
            }
        }
        return requests.indices.map { LeaveContext(state: state[$0], cited: cited[$0], alreadyStored: stored[$0]) }
    }
}

/// Reads make_leave templates for `RoomStore` (through its ``TemplateContextReads``): one alone,
/// or several with one statement.
struct TemplateContextReader: Sendable {
    let pool: PostgresPool

    /// Several make_leaves' statement, built once: state entries from $1–$4
    /// (``IndexedStateKeys``), then each request's extremities as `templateContextSQL` reads them
    /// (`deepest_extremities`, deepest then newest first), tagged `'x'`, from $5–$7 (index, room,
    /// limit). Each request's rows come in its subquery's order (one nested-loop pass per request).
    static let manySQL = IndexedStateKeys.sql + """

        UNION ALL
        SELECT x.n, 'x', \(EventColumns.selectPDU)
        FROM unnest($5::text[], $6::text[], $7::text[]) AS x(n, room_id, extremity_limit)
        CROSS JOIN LATERAL (
            SELECT e.* FROM deepest_extremities(x.room_id, x.extremity_limit::bigint) f
            \(EventColumns.joinEvent(roomID: "x.room_id", eventID: "f.extremity_id"))
            ORDER BY e.depth DESC, e.stream_ordering DESC LIMIT x.extremity_limit::bigint) e
        """

    /// One make_leave's template context, with `RoomStore.templateContextSQL`.
    @Sendable func read(_ request: TemplateContextRequest) async throws -> TemplateContext {
        let groups = try await pool.taggedEvents(
            RoomStore.templateContextSQL, roomID: request.roomID, stateKeys: request.stateKeys,
            parameters: [.int(Int64(request.extremityLimit))])
        return TemplateContext(state: groups["s"] ?? [], extremities: groups["x"] ?? [])
    }

    /// The template contexts of `requests`, in order.
    @Sendable func read(_ requests: [TemplateContextRequest]) async throws -> [TemplateContext] {
        let parameters = IndexedStateKeys(requests.map { ($0.roomID, $0.stateKeys) }).parameters + [
            .textArray(requests.indices.map { String($0) }), .textArray(requests.map(\.roomID)),
            .textArray(requests.map { String($0.extremityLimit) }),
        ]
        var state = Array(repeating: [StoredPDU](), count: requests.count)
        var extremities = state
        try await pool.forEachIndexedEvent(Self.manySQL, parameters, count: requests.count) { index, tag, event in
            switch tag {
            case "s": state[index].append(event)
            case "x": extremities[index].append(event)
            default: throw StorageError.malformedRow("template context row of an unknown part")
            }
        }
        return requests.indices.map { TemplateContext(state: state[$0], extremities: extremities[$0]) }
    }
}

/// Several requests' state entries as a shared read's parameters $1–$4 — parallel text arrays of
/// request index, room, type and state key, one element per entry — and the statement part that
/// reads them: each entry's current-state event, tagged `'s'` and led by its request's index.
struct IndexedStateKeys {
    static let sql = """
        SELECT k.n, 's', \(EventColumns.selectPDU)
        FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS k(n, room_id, type, state_key)
        \(EventColumns.joinStateEvent(roomID: "k.room_id", type: "k.type", stateKey: "k.state_key"))
        """

    let parameters: [PostgresValue]

    init(_ requests: [(roomID: String, stateKeys: [(type: String, stateKey: String)])]) {
        var index: [String] = [], room: [String] = [], type: [String] = [], stateKey: [String] = []
        for (position, request) in requests.enumerated() {
            for key in request.stateKeys {
                index.append(String(position))
                room.append(request.roomID)
                type.append(key.type)
                stateKey.append(key.stateKey)
            }
        }
        parameters = [.textArray(index), .textArray(room), .textArray(type), .textArray(stateKey)]
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

    /// Runs `sql` (a statement shared by `count` requests above, whose rows are request index,
    /// tag, event) and hands each row's index, tag and event to `body`, in row order.
    fileprivate func forEachIndexedEvent(
        _ sql: String, _ parameters: [PostgresValue], count: Int, _ body: (Int, String, StoredPDU) throws -> Void
    ) async throws {
        let rows = try await withConnection { connection in
            try connection.query(sql, parameters).rows.map { row throws(StorageError) in
                (index: row.string(0).flatMap { Int($0) }, tag: row.string(1) ?? "", event: try StoredPDU(row: row, offset: 2))
            }
        }
        for row in rows {
            guard let index = row.index, (0..<count).contains(index) else {
                throw StorageError.malformedRow("shared read row for no request")
            }
            try body(index, row.tag, row.event)
        }
    }
}
