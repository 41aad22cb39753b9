import Postgres

/// The `events` columns every event query selects, in the order `EventRecord(row:)` reads them.
enum EventColumns {
    /// Column list for a query whose `events` table is aliased `e`.
    static let select = """
        e.event_id, e.room_id, e.type, e.state_key, e.sender, e.depth, e.origin_server_ts, \
        e.membership, e.prev_events, e.auth_events, e.pdu
        """
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

extension PostgresResult {
    /// Every row read as an `EventRecord`.
    func eventRecords() throws(StorageError) -> [EventRecord] {
        var records: [EventRecord] = []
        records.reserveCapacity(rowCount)
        for row in rows { records.append(try EventRecord(row: row)) }
        return records
    }
}
