import LeaveDecision
import Storage

/// Why the leave service did not answer a request, in its own terms; the HTTP edge maps it to a
/// status and Matrix error body (WorkerApp).
public enum LeaveServiceError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The room is not held by this server.
    case unknownRoom(String)
    /// The event is unknown, or the asking server may not see it (the two are not told apart).
    case eventNotFound
    /// The decision refused the request.
    case refused(LeaveRefusal)
    /// Storage failed (the database, its data, or contention).
    case storage(StorageError)

    public var description: String {
        switch self {
        case .unknownRoom(let room): "unknown room \(room)"
        case .eventNotFound: "event not found"
        case .refused(let refusal): refusal.description
        case .storage(let error): "storage: \(error)"
        }
    }
}
