import Postgres
@testable import Storage

extension RoomStore {
    /// The room's whole current state, ordered by (type, state key): what the tests read back to
    /// inspect a room (the worker itself reads only the entries a decision needs).
    func currentState(roomID: String) async throws -> [EventRecord] {
        try await pool.withConnection { connection in
            try connection.query("""
                SELECT \(EventColumns.select)
                FROM current_state s \(EventColumns.joinEvent(roomID: "s.room_id", eventID: "s.event_id"))
                WHERE s.room_id = $1 ORDER BY s.type, s.state_key
                """, [.text(roomID)]).eventRecords()
        }
    }
}
