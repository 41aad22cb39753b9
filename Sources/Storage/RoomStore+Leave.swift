import Postgres

extension RoomStore {
    /// The leave transaction (`store_leave`, one statement): takes the room's lock; a replay of a
    /// stored event ID is `.alreadyStored`; a member whose membership is no longer
    /// `expectedMembership` is `.membershipChanged`; otherwise stores the event, upserts the
    /// membership (INSERT … ON CONFLICT DO UPDATE), replaces the member's current-state entry,
    /// moves the forward extremities and writes an outbox row per destination. Nothing is written
    /// unless everything is. Then the event is announced on the stream (`StreamNotifier`, coalesced).
    /// Throws `StorageError.unknownRoom`, `.eventIDInOtherRoom`, `.contended` (retries used up),
    /// or the `PostgresError`.
    public func storeLeave(_ event: EventRecord, expectedMembership: String, destinations: [String]) async throws -> LeaveOutcome {
        try await storeLeave(event, expectedMembership: expectedMembership, forwarding: .textArray(destinations), excluding: .null)
    }

    /// As `storeLeave(_:expectedMembership:destinations:)`, forwarding to every server that has a
    /// joined member in the room when the leave is stored (after it), except `excludeServers`
    /// (this server and the leave's origin). Computed inside the transaction.
    public func storeLeave(_ event: EventRecord, expectedMembership: String, excludeServers: [String]) async throws -> LeaveOutcome {
        try await storeLeave(event, expectedMembership: expectedMembership, forwarding: .null, excluding: .textArray(excludeServers))
    }

    private func storeLeave(
        _ event: EventRecord, expectedMembership: String, forwarding destinations: PostgresValue, excluding: PostgresValue
    ) async throws -> LeaveOutcome {
        let parameters: [PostgresValue] = [
            .text(event.roomID), .text(event.eventID), .text(event.type), event.stateKey.map { .text($0) } ?? .null,
            .text(event.sender), .int(event.depth), .int(event.originServerTS), event.membership.map { .text($0) } ?? .null,
            .textArray(event.prevEvents), .textArray(event.authEvents), .text(String(decoding: event.pdu, as: UTF8.self)),
            .text(expectedMembership), destinations, excluding,
        ]
        let roomID = event.roomID
        let eventID = event.eventID
        return try await retryPolicy.run {
            try await pool.withConnection { connection in
                let result = try connection.query(Self.storeLeaveSQL, parameters)
                let outcome = try Self.leaveOutcome(result, roomID: roomID, eventID: eventID)
                if case .stored(let position) = outcome {
                    self.notifier.announce(StreamNotification(streamPosition: position, roomID: roomID, eventID: eventID))
                }
                return outcome
            }
        }
    }

    static let storeLeaveSQL = """
        SELECT outcome, stream_position, current_membership
        FROM store_leave($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
        """

    private static func leaveOutcome(_ result: PostgresResult, roomID: String, eventID: String) throws(StorageError) -> LeaveOutcome {
        guard let row = result.rows.first, let outcome = row.string(0) else {
            throw .malformedRow("store_leave returned no outcome")
        }
        switch outcome {
        case "stored":
            guard let position = row.int64(1) else { throw .malformedRow("store_leave stored without a stream position") }
            return .stored(streamPosition: position)
        case "already_stored": return .alreadyStored
        case "membership_changed": return .membershipChanged(current: row.string(2))
        case "unknown_room": throw .unknownRoom(roomID)
        case "event_id_in_other_room": throw .eventIDInOtherRoom(eventID: eventID)
        default: throw .malformedRow("store_leave outcome \(outcome)")
        }
    }
}
