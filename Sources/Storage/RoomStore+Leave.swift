import MatrixCore
import Postgres

extension RoomStore {
    /// The leave transaction (`store_leaves`, sql/README.md): takes the room's lock; a replay of a
    /// stored event ID is `.alreadyStored`; a member whose membership is no longer
    /// `expectedMembership`, or no longer recorded by `expectedMembershipEvent` (the member event
    /// the leave was decided on; nil: the value alone is compared), is `.membershipChanged`;
    /// otherwise stores the event as accepted (to be forwarded), upserts the membership, replaces
    /// the member's current-state entry, moves the forward extremities and counts the member's
    /// server one joined member fewer — the same rows whatever the number of servers in the room.
    /// Nothing of this leave is written unless everything is. Leaves that arrive while others are
    /// being written are committed together (`LeaveBatcher`), each with its own outcome. Then the
    /// event is announced on the stream (`StreamNotifier`, coalesced).
    /// `expectedMembership` nil: the member must have none. Throws `StorageError.unknownRoom`,
    /// `.eventIDInOtherRoom`, `.contended` (retries used up) or `.database`.
    public func storeLeave(_ event: EventRecord, expectedMembership: String?, expectedMembershipEvent: String? = nil)
        async throws(StorageError) -> LeaveOutcome
    {
        try await StorageError.translating {
            try await batcher.store(LeaveWrite(event: event, expectedMembership: expectedMembership,
                                               expectedMembershipEvent: expectedMembershipEvent))
        }
    }
}

/// Writes leaves for `RoomStore` (through its `LeaveBatcher`): one alone, or several in one
/// transaction; announces what it stored.
struct LeaveWriter: Sendable {
    let pool: PostgresPool
    let retryPolicy: RetryPolicy
    let notifier: StreamNotifier

    /// Stores one leave in its own transaction (a batch of one).
    @Sendable func writeLeave(_ write: LeaveWrite) async throws -> LeaveOutcome {
        try await writeLeaves([write])[0].get()
    }

    /// Stores several leaves in one transaction (`store_leaves`): one result per leave, in order.
    @Sendable func writeLeaves(_ writes: [LeaveWrite]) async throws -> [Result<LeaveOutcome, any Error>] {
        let parameters: [PostgresValue] = [
            .text(LeaveInput.document(writes)), .textArray(LeaveInput.pdus(writes)), .bool(LeaveInput.isDistinct(writes)),
        ]
        let rows = try await retryPolicy.run {
            try await pool.withConnection { connection in
                try connection.query(Self.storeLeavesSQL, parameters).rows
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

    static let storeLeavesSQL = """
        SELECT leave_index, outcome, stream_position, current_membership FROM store_leaves($1::json, $2::text[], $3::boolean)
        """

    /// The outcome in a row's columns (outcome, stream_position, current_membership) from column `first`.
    private static func leaveOutcome(_ row: PostgresRow?, from first: Int = 0, of event: EventRecord) throws(StorageError) -> LeaveOutcome {
        guard let row, let outcome = row.string(first) else {
            throw .malformedRow("store_leaves returned no outcome")
        }
        switch outcome {
        case "stored":
            guard let position = row.int64(first + 1) else { throw .malformedRow("store_leaves stored without a stream position") }
            return .stored(streamPosition: position)
        case "already_stored": return .alreadyStored
        case "membership_changed": return .membershipChanged(current: row.string(first + 2))
        case "unknown_room": throw .unknownRoom(event.roomID)
        case "event_id_in_other_room": throw .eventIDInOtherRoom(eventID: event.eventID)
        default: throw .malformedRow("store_leaves outcome \(outcome)")
        }
    }
}
