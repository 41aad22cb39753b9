import MatrixCore

/// What storage returned for one `send_leave`: the current state at ``RoomState/keys(for:)`` of
/// the sender, the room's events among the cited IDs — parsed where they are auth events, by ID
/// where only their presence matters (prev events) — and whether the event itself is already
/// stored (a replay).
public struct LeaveSnapshot: Sendable {
    public let state: RoomState
    /// The room's events among the leave's auth events; unknown IDs are absent.
    public let authEvents: [AuthEvent]
    /// The IDs of the room's events among all the cited IDs (auth and prev events), byte for byte.
    public let storedIDs: Set<ExactString>
    public let alreadyStored: Bool

    public init(version: RoomVersion, state: [AuthEvent], authEvents: [AuthEvent], storedIDs: [String], alreadyStored: Bool) {
        self.state = RoomState(version: version, events: state)
        self.authEvents = authEvents
        self.storedIDs = Set(storedIDs.map { ExactString($0) })
        self.alreadyStored = alreadyStored
    }
}

/// The membership a leave was validated against, which the write must still find (else another
/// event won the race and the leave is refused). Storage receives it as NULL or the value.
public enum PriorMembership: Equatable, Sendable {
    /// The user has no membership in the room.
    case none
    case membership(String)

    public init(_ membership: String?) {
        self = membership.map(PriorMembership.membership) ?? .none
    }

    /// The membership, `nil` for none.
    public var value: String? {
        switch self {
        case .none: nil
        case .membership(let membership): membership
        }
    }
}

/// The leave as it is stored and served: the accepted event (our redacted copy if its content
/// hash did not match), its ID, and its JSON without `unsigned` and with our signature added.
public struct SignedLeave: Sendable {
    public let eventID: String
    public let event: PDU
    public let json: JSONObject
}

/// What the decision says about a `send_leave`.
public enum LeaveVerdict: Sendable {
    /// Store `leave` if the member's membership is still `expectedPrior`.
    case store(SignedLeave, expectedPrior: PriorMembership)
    /// The event is already stored in this room and every check passed again: nothing to write.
    case alreadyStored
    case refused(LeaveRefusal)
}
