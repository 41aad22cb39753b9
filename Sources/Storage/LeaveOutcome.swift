/// What the leave transaction did.
public enum LeaveOutcome: Sendable, Equatable {
    /// Stored, with the event's position in the event stream.
    case stored(streamPosition: Int64)
    /// The event ID was already stored in the room: nothing was written (a replay).
    case alreadyStored
    /// The member's membership was no longer the expected one (another event won the race):
    /// nothing was written. `current` is nil when the user has no membership in the room.
    case membershipChanged(current: String?)
}
