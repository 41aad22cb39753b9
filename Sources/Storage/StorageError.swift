import Postgres

/// Why a storage call failed other than a plain `PostgresError` (which it rethrows as is).
public enum StorageError: Error, Equatable, CustomStringConvertible {
    /// The room is not held by this server.
    case unknownRoom(String)
    /// The event ID is already stored in a different room (possible only with the sender-chosen
    /// IDs of room versions 1 and 2).
    case eventIDInOtherRoom(eventID: String)
    /// An import cannot be applied: the room is held with another version or another history.
    case importConflict(roomID: String, reason: String)
    /// The transaction kept losing serialization/deadlock/connection races; worth retrying later (503).
    case contended(attempts: Int, lastError: String)
    /// The database returned something the schema does not allow (a NULL in a NOT NULL column…).
    case malformedRow(String)

    public var description: String {
        switch self {
        case .unknownRoom(let room): "room \(room) is not held by this server"
        case .eventIDInOtherRoom(let event): "event ID \(event) is already used in another room"
        case .importConflict(let room, let reason): "cannot import \(room): \(reason)"
        case .contended(let attempts, let last): "gave up after \(attempts) attempts: \(last)"
        case .malformedRow(let what): "unexpected database row: \(what)"
        }
    }
}
