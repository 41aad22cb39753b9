import MatrixCore
import Postgres

extension RoomStore {
    /// The leave transaction (`store_leave`): takes the room's lock; a replay of a stored event ID
    /// is `.alreadyStored`; a member whose membership is no longer `expectedMembership` is
    /// `.membershipChanged`; otherwise stores the event, upserts the membership (INSERT … ON
    /// CONFLICT DO UPDATE), replaces the member's current-state entry, moves the forward
    /// extremities and writes an outbox row per destination. Nothing of this leave is written
    /// unless everything is. Leaves that arrive while others are being written are committed
    /// together (`LeaveBatcher`, `store_leaves`), each with its own outcome. Then the event is
    /// announced on the stream (`StreamNotifier`, coalesced).
    /// `expectedMembership` nil: the member must have none. Throws `StorageError.unknownRoom`,
    /// `.eventIDInOtherRoom`, `.contended` (retries used up) or `.database`.
    public func storeLeave(_ event: EventRecord, expectedMembership: String?, destinations: [String]) async throws(StorageError)
        -> LeaveOutcome
    {
        try await StorageError.translating { try await batcher.store(LeaveWrite(event: event, expectedMembership: expectedMembership,
                                           destinations: destinations, excludeServers: nil)) }
    }

    /// As `storeLeave(_:expectedMembership:destinations:)`, forwarding to every server that has a
    /// joined member in the room when the leave is stored (after it), except `excludeServers`
    /// (this server and the leave's origin). Computed inside the transaction.
    public func storeLeave(_ event: EventRecord, expectedMembership: String?, excludeServers: [String]) async throws(StorageError)
        -> LeaveOutcome
    {
        try await StorageError.translating { try await batcher.store(LeaveWrite(event: event, expectedMembership: expectedMembership,
                                           destinations: nil, excludeServers: excludeServers)) }
    }

}

/// Writes leaves for `RoomStore` (through its `LeaveBatcher`): one alone, or several in one
/// transaction; announces what it stored.
struct LeaveWriter: Sendable {
    let pool: PostgresPool
    let retryPolicy: RetryPolicy
    let notifier: StreamNotifier

    /// Stores one leave in its own transaction (`store_leave`).
    @Sendable func writeLeave(_ write: LeaveWrite) async throws -> LeaveOutcome {
        let event = write.event
        let parameters: [PostgresValue] = [
            .text(event.roomID), .text(event.eventID), .text(event.type), event.stateKey.map { .text($0) } ?? .null,
            .text(event.sender), .int(event.depth), .int(event.originServerTS), event.membership.map { .text($0) } ?? .null,
            .textArray(event.prevEvents), .textArray(event.authEvents), .text(String(decoding: event.pdu, as: UTF8.self)),
            write.expectedMembership.map { .text($0) } ?? .null, write.destinations.map { .textArray($0) } ?? .null,
            write.excludeServers.map { .textArray($0) } ?? .null,
        ]
        let outcome = try await retryPolicy.run {
            try await pool.withConnection { connection in
                try Self.leaveOutcome(connection.query(Self.storeLeaveSQL, parameters).rows.first, of: event)
            }
        }
        if case .stored(let position) = outcome {
            notifier.announce(StreamNotification(streamPosition: position, roomID: event.roomID, eventID: event.eventID))
        }
        return outcome
    }

    /// Stores several leaves in one transaction (`store_leaves`): one result per leave, in order.
    @Sendable func writeLeaves(_ writes: [LeaveWrite]) async throws -> [Result<LeaveOutcome, any Error>] {
        let document = JSONValue.array(writes.map(Self.leaveObject)).compactBytes()
        let rows = try await retryPolicy.run {
            try await pool.withConnection { connection in
                try connection.query(Self.storeLeavesSQL, [.text(String(decoding: document, as: UTF8.self))]).rows
            }
        }
        var byIndex: [Int: PostgresRow] = [:]
        for row in rows {
            if let index = row.int64(0) { byIndex[Int(index) - 1] = row }
        }
        let results = writes.indices.map { index in
            Result { () throws(StorageError) -> LeaveOutcome in
                try Self.leaveOutcome(byIndex[index], from: 1, of: writes[index].event)
            }.mapError { $0 as any Error }
        }
        let stored = zip(writes, results).compactMap { write, result -> StreamNotification? in
            guard case .success(.stored(let position)) = result else { return nil }
            return StreamNotification(streamPosition: position, roomID: write.event.roomID, eventID: write.event.eventID)
        }
        if let last = stored.max(by: { $0.streamPosition < $1.streamPosition }) { notifier.announce(last) }
        return results
    }

    static let storeLeaveSQL = """
        SELECT outcome, stream_position, current_membership
        FROM store_leave($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
        """

    static let storeLeavesSQL = """
        SELECT leave_index, outcome, stream_position, current_membership FROM store_leaves($1::json)
        """

    /// A leave as `store_leaves` reads it.
    private static func leaveObject(_ write: LeaveWrite) -> JSONValue {
        let event = write.event
        func strings(_ values: [String]?) -> JSONValue { values.map { .array($0.map(JSONValue.string)) } ?? .null }
        let object: JSONObject = [
            "room_id": .string(event.roomID), "event_id": .string(event.eventID), "type": .string(event.type),
            "state_key": event.stateKey.map(JSONValue.string) ?? .null, "sender": .string(event.sender),
            "depth": .integer(event.depth), "origin_server_ts": .integer(event.originServerTS),
            "membership": event.membership.map(JSONValue.string) ?? .null,
            "prev_events": strings(event.prevEvents), "auth_events": strings(event.authEvents),
            "pdu": .string(String(decoding: event.pdu, as: UTF8.self)),
            "expected_membership": write.expectedMembership.map(JSONValue.string) ?? .null,
            "destinations": strings(write.destinations), "exclude_servers": strings(write.excludeServers),
        ]
        return .object(object)
    }

    /// The outcome in a row's columns (outcome, stream_position, current_membership) from column `first`.
    private static func leaveOutcome(_ row: PostgresRow?, from first: Int = 0, of event: EventRecord) throws(StorageError) -> LeaveOutcome {
        guard let row, let outcome = row.string(first) else {
            throw .malformedRow("store_leave returned no outcome")
        }
        switch outcome {
        case "stored":
            guard let position = row.int64(first + 1) else { throw .malformedRow("store_leave stored without a stream position") }
            return .stored(streamPosition: position)
        case "already_stored": return .alreadyStored
        case "membership_changed": return .membershipChanged(current: row.string(first + 2))
        case "unknown_room": throw .unknownRoom(event.roomID)
        case "event_id_in_other_room": throw .eventIDInOtherRoom(eventID: event.eventID)
        default: throw .malformedRow("store_leave outcome \(outcome)")
        }
    }
}
