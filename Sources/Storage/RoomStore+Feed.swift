import MatrixCore
import Postgres

/// One event of the homeserver feed: an event the fleet accepted, at its stream position.
public struct FeedEvent: Sendable, Equatable {
    public let streamPosition: Int64
    public let roomID: String
    public let eventID: String
    /// The PDU exactly as stored and served (with this server's signature).
    public let pdu: [UInt8]

    /// `{"stream_position", "room_id", "event_id", "pdu"}` — the stored PDU embedded as it is, never re-encoded.
    public var jsonBytes: [UInt8] {
        var bytes = Array(#"{"stream_position":"#.utf8) + Array(String(streamPosition).utf8)
        bytes += Array(#","room_id":"#.utf8) + JSONValue.string(roomID).compactBytes()
        bytes += Array(#","event_id":"#.utf8) + JSONValue.string(eventID).compactBytes()
        bytes += Array(#","pdu":"#.utf8) + pdu + [UInt8(ascii: "}")]
        return bytes
    }
}

extension RoomStore {
    /// The most events one feed read returns.
    public static let maxFeedEvents = 1_000

    /// The last stream position handed out (0 before any): every event's position, committed or
    /// not, is at or below it, so a feed reader can never have been given a position above it.
    public func streamHead() async throws -> Int64 {
        try await pool.withConnection { connection in
            let result = try connection.query("SELECT coalesce(pg_sequence_last_value('event_stream_ordering'), 0)")
            guard let head = result.rows.first?.int64(0) else { throw StorageError.malformedRow("the stream's last position") }
            return head
        }
    }

    /// Up to `limit` (1…`maxFeedEvents`) events the fleet accepted (`events.accepted`), after
    /// stream position `after`, in stream order, up to the stream's safe point (`horizon`): event
    /// writers commit in any order, so a later position may be visible before an earlier one
    /// commits; below the safe point every position is final, and a reader never skips an event.
    public func acceptedEvents(after position: Int64, limit: Int) async throws -> [FeedEvent] {
        let bounded = Int64(min(max(1, limit), Self.maxFeedEvents))
        let safe = try await horizon.safePosition()
        guard safe > position else { return [] }
        return try await pool.withConnection { connection in
            let result = try connection.query("""
                SELECT stream_ordering, room_id, event_id, pdu FROM events
                WHERE accepted AND stream_ordering > $1 AND stream_ordering <= $3 ORDER BY stream_ordering LIMIT $2
                """, [.int(position), .int(bounded), .int(safe)])
            return try result.rows.map { row throws(StorageError) in
                guard let position = row.int64(0), let roomID = row.string(1), let eventID = row.string(2),
                      let pdu = row.bytes(3) else { throw .malformedRow("events row of the feed") }
                return FeedEvent(streamPosition: position, roomID: roomID, eventID: eventID, pdu: pdu)
            }
        }
    }
}
