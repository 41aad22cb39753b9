import Postgres

/// The `events` columns event queries select — all of them in the order `EventRecord(row:)` reads
/// them, or the four `StoredPDU(row:)` reads — and the lookups those queries are built from.
///
/// Every lookup of an event or a state entry is an equality on the table's whole primary key,
/// inside a `LATERAL (… LIMIT 1)` that the planner cannot flatten. Written as a plain join or
/// `event_id = ANY(…)`, the planner chose by its statistics — and for a room created or grown
/// since the last ANALYZE those say "one row": it then scanned the room's whole current state and
/// all its events by `room_id` alone (measured: 8.6 ms per send_leave read in a 3,000-member room
/// imported a minute earlier, instead of 0.2 ms). With full-key lookups every plan is a handful of
/// index probes, whatever the statistics say.
enum EventColumns {
    /// Column list for a query whose `events` row is aliased `e`.
    static let select = """
        e.event_id, e.room_id, e.type, e.state_key, e.sender, e.depth, e.origin_server_ts, \
        e.membership, e.prev_events, e.auth_events, e.pdu
        """

    /// Column list of a `StoredPDU` for a query whose `events` row is aliased `e`: what a leave or
    /// template is decided on (the PDU, parsed or taken from the parsed-event cache by ID, holds the
    /// rest). Each column left out is decoding a send_leave's ≈ 7 rows no longer pays for.
    static let selectPDU = "e.event_id, e.depth, e.stream_ordering, e.pdu"

    /// ``selectPDU``'s columns with an empty PDU: for rows whose event need only exist (its PDU,
    /// up to 64 KiB, is neither read nor sent).
    static let selectWithoutPDU = "e.event_id, e.depth, e.stream_ordering, ''::text"

    /// A `FROM`-clause continuation that adds `e`, the event of room `roomID` with ID `eventID`
    /// (SQL expressions over the items before it); rows without such an event are dropped.
    static func joinEvent(roomID: String, eventID: String) -> String {
        "CROSS JOIN LATERAL (SELECT * FROM events e WHERE e.room_id = \(roomID) AND e.event_id = \(eventID) LIMIT 1) e"
    }

    /// A `FROM` clause: `e`, the events of room `roomID` whose IDs are in the text array
    /// `eventIDs` (SQL expressions); unknown IDs and repeated IDs give no extra rows.
    static func eventsByID(roomID: String, eventIDs: String) -> String {
        "(SELECT DISTINCT unnest(\(eventIDs)::text[])) AS wanted(event_id) "
            + joinEvent(roomID: roomID, eventID: "wanted.event_id")
    }

    /// A `FROM` clause: `e`, the current-state events of room `roomID` at the (type, state key)
    /// pairs given as the parallel text arrays `types` and `stateKeys`; missing entries are dropped.
    static func currentStateEvents(roomID: String, types: String, stateKeys: String) -> String {
        "unnest(\(types)::text[], \(stateKeys)::text[]) AS k(type, state_key) "
            + joinStateEvent(roomID: roomID, type: "k.type", stateKey: "k.state_key")
    }

    /// A `FROM`-clause continuation that adds `e`, the current-state event of room `roomID` at
    /// (`type`, `stateKey`) (SQL expressions over the items before it); rows without one are dropped.
    static func joinStateEvent(roomID: String, type: String, stateKey: String) -> String {
        """
        CROSS JOIN LATERAL (SELECT s.event_id FROM current_state s
                            WHERE s.room_id = \(roomID) AND s.type = \(type) AND s.state_key = \(stateKey) LIMIT 1) s
        \(joinEvent(roomID: roomID, eventID: "s.event_id"))
        """
    }
}
extension EventRecord {
    /// Reads a row selected with `EventColumns.select`, starting at column `offset`.
    init(row: PostgresRow, offset o: Int = 0) throws(StorageError) {
        guard let eventID = row.string(o), let roomID = row.string(o + 1), let type = row.string(o + 2),
              let sender = row.string(o + 4), let depth = row.int64(o + 5), let originServerTS = row.int64(o + 6),
              let prevEvents = row.stringArray(o + 8), let authEvents = row.stringArray(o + 9), let pdu = row.bytes(o + 10)
        else {
            throw .malformedRow("events row with a missing or undecodable column")
        }
        self.init(eventID: eventID, roomID: roomID, type: type, stateKey: row.string(o + 3), sender: sender,
                  depth: depth, originServerTS: originServerTS, membership: row.string(o + 7),
                  prevEvents: prevEvents, authEvents: authEvents, pdu: pdu)
    }
}

extension StoredPDU {
    /// Reads a row selected with `EventColumns.selectPDU`, starting at column `offset`.
    init(row: PostgresRow, offset o: Int = 0) throws(StorageError) {
        guard let eventID = row.string(o), let depth = row.int64(o + 1), let position = row.int64(o + 2),
              let pdu = row.bytes(o + 3)
        else {
            throw .malformedRow("events row with a missing or undecodable column")
        }
        self.init(eventID: eventID, depth: depth, streamPosition: position, pdu: pdu)
    }
}

extension PostgresResult {
    /// Every row read as an `EventRecord`.
    func eventRecords() throws(StorageError) -> [EventRecord] {
        var records: [EventRecord] = []
        records.reserveCapacity(rowCount)
        for row in rows { records.append(try EventRecord(row: row)) }
        return records
    }
}
