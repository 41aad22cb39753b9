import MatrixCore
import Postgres

/// The wake-up sent on channel `leave_worker_events` after events are committed: JSON
/// `{"event_id", "room_id", "stream_position"}` naming the highest-position event among those it
/// announces (sql/README.md, "Event stream"); sent by `StreamNotifier`.
///
/// Sent as its own statement after the commit, not inside the transaction: a NOTIFY inside a
/// transaction holds a database-wide lock across the commit's WAL flush, which serialises every
/// committing leave (measured: 285 tx/s at 8 clients instead of 2,800).
public struct StreamNotification: Sendable, Equatable {
    /// The LISTEN channel.
    public static let channel = "leave_worker_events"

    public let streamPosition: Int64
    public let roomID: String
    public let eventID: String

    public init(streamPosition: Int64, roomID: String, eventID: String) {
        self.streamPosition = streamPosition
        self.roomID = roomID
        self.eventID = eventID
    }

    /// The NOTIFY payload.
    public var payload: String {
        let object: JSONObject = [
            "event_id": .string(eventID), "room_id": .string(roomID), "stream_position": .integer(streamPosition),
        ]
        return String(decoding: object.compactBytes(), as: UTF8.self)
    }

    /// Parses a payload received by a listener.
    public init?(payload: String) {
        guard case .object(let object)? = try? JSONParser.parse(payload),
              let position = object["stream_position"]?.integerValue,
              let roomID = object["room_id"]?.stringValue, let eventID = object["event_id"]?.stringValue
        else { return nil }
        self.init(streamPosition: position, roomID: roomID, eventID: eventID)
    }
}
