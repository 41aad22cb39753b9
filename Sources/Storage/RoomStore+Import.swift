import MatrixCore
import Postgres

/// What `RoomStore.importRoom` left in the database.
public struct ImportSummary: Sendable, Equatable {
    /// False when the room already held every one of these events (a re-import): nothing was written.
    public let imported: Bool
    /// Events in the import (state-only records included).
    public let events: Int
    /// Events this call stored.
    public let newEvents: Int
    /// The room's totals after a first import — current state entries, joined members, forward
    /// extremities; `nil` after an append or a repeated import (counting them read the whole room
    /// under its lock for every push: `sql/0027`).
    public let stateEvents: Int?
    public let joinedMembers: Int?
    public let forwardExtremities: Int?

    public init(
        imported: Bool, events: Int, newEvents: Int, stateEvents: Int? = nil, joinedMembers: Int? = nil,
        forwardExtremities: Int? = nil
    ) {
        self.imported = imported
        self.events = events
        self.newEvents = newEvents
        self.stateEvents = stateEvents
        self.joinedMembers = joinedMembers
        self.forwardExtremities = forwardExtremities
    }
}

extension RoomStore {
    /// Stores a room: every event, the current state `state` (events of the import), the memberships
    /// it implies, the forward extremities (imported events no imported event cites as a prev event)
    /// and each server's joined-member count — in one statement (`import_room`), so one transaction.
    /// For a room already held, the events it does not hold yet are appended (each appended state
    /// event replacing its entry; `state` is then unused); re-importing events it holds changes
    /// nothing. Throws `StorageError.importConflict` if the room is held with another version or
    /// another history, an event ID is used by another room, or an appended membership event does
    /// not build on the user's current membership event (sql/0010).
    public func importRoom(roomID: String, version: String, events: [EventRecord], state: [EventRecord]) async throws -> ImportSummary {
        var all = events
        var seen = Set(events.map(\.eventID))
        for record in state where seen.insert(record.eventID).inserted { all.append(record) }
        let document = Self.importDocument(all)
        let parameters: [PostgresValue] = [.text(roomID), .text(version), .text(document), .textArray(state.map(\.eventID))]

        return try await retryPolicy.run {
            try await pool.withConnection { connection in
                let result = try connection.query("""
                    SELECT outcome, events, new_events, state_events, joined_members, forward_extremities,
                           stream_position, last_event_id, conflict_event_id, conflicting_event_id
                    FROM import_room($1, $2, $3::json, $4)
                    """, parameters)
                let summary = try Self.importSummary(result, roomID: roomID)
                if summary.imported, let row = result.rows.first, let position = row.int64(6), let last = row.string(7) {
                    self.notifier.announce(StreamNotification(streamPosition: position, roomID: roomID, eventID: last))
                }
                return summary
            }
        }
    }

    private static func importSummary(_ result: PostgresResult, roomID: String) throws(StorageError) -> ImportSummary {
        guard let row = result.rows.first, let outcome = row.string(0) else {
            throw .malformedRow("import_room returned no outcome")
        }
        switch outcome {
        case "imported", "appended", "already_imported":
            guard let events = row.int64(1), let new = row.int64(2) else { throw .malformedRow("import_room summary") }
            return ImportSummary(imported: outcome != "already_imported", events: Int(events), newEvents: Int(new),
                                 stateEvents: row.int64(3).map(Int.init), joinedMembers: row.int64(4).map(Int.init),
                                 forwardExtremities: row.int64(5).map(Int.init))
        case "version_mismatch":
            throw .importConflict(roomID: roomID, reason: "the room is held with another room version")
        case "room_has_other_events":
            throw .importConflict(roomID: roomID, reason: "the room is held with a different history")
        case "conflict":
            let refused = row.string(8) ?? "?", current = row.string(9) ?? "?"
            throw .importConflict(roomID: roomID, reason: "event \(refused) changes a membership whose current event "
                + "\(current) (stored meanwhile, e.g. a leave accepted by the fleet) is neither among its auth_events "
                + "nor its prev_events; rebuild it on \(current)")
        case "event_id_in_other_room":
            throw .importConflict(roomID: roomID, reason: "an event ID of the import is used by another room")
        default:
            throw .malformedRow("import_room outcome \(outcome)")
        }
    }

    /// `import_room`'s JSON document: the records, in order.
    static func importDocument(_ records: [EventRecord]) -> String {
        String(decoding: JSONValue.array(records.map(importObject)).compactBytes(), as: UTF8.self)
    }

    /// One element of `import_room`'s JSON document.
    private static func importObject(_ record: EventRecord) -> JSONValue {
        .object([
            "event_id": .string(record.eventID), "type": .string(record.type),
            "state_key": record.stateKey.map { .string($0) } ?? .null, "sender": .string(record.sender),
            "depth": .integer(record.depth), "origin_server_ts": .integer(record.originServerTS),
            "membership": record.membership.map { .string($0) } ?? .null,
            "prev_events": .array(record.prevEvents.map { .string($0) }),
            "auth_events": .array(record.authEvents.map { .string($0) }),
            "pdu": .string(String(decoding: record.pdu, as: UTF8.self)),
        ])
    }
}
