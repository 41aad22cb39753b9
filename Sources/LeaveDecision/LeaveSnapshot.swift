import MatrixCore

/// What storage returned for one `send_leave`: the current state at ``RoomState/keys(for:)`` of
/// the sender, the room's events among the cited IDs — parsed where they are auth events, by ID
/// where only their presence matters (prev events) — and whether the event itself is already
/// stored (a replay).
public struct LeaveSnapshot: Sendable {
    public let state: RoomState
    /// The room's events among the leave's auth events; unknown IDs are absent.
    public let authEvents: [AuthEvent]
    /// The room's events among all the cited IDs (auth and prev events), by ID byte for byte, with
    /// each one's position in the event stream — the order they were stored in, which is a
    /// topological order: an event is stored only after its prev events.
    public let streamPositions: [ExactString: Int64]
    public let alreadyStored: Bool

    public init(
        version: RoomVersion, state: [AuthEvent], authEvents: [AuthEvent], streamPositions: [ExactString: Int64], alreadyStored: Bool
    ) {
        self.state = RoomState(version: version, events: state)
        self.authEvents = authEvents
        self.streamPositions = streamPositions
        self.alreadyStored = alreadyStored
    }
}

/// The membership a leave was validated against — the member event the decision read — which the
/// write must still find, by event ID (else another event won the race, even one of the same
/// value: a kick and a rejoin; the leave is refused). Storage receives NULLs or the value and ID.
public struct PriorMembership: Equatable, Sendable {
    /// The membership, `nil` for none.
    public let value: String?
    /// The member event's ID, `nil` for none.
    public let eventID: String?

    /// No membership in the room.
    public static let none = PriorMembership(value: nil, eventID: nil)

    public init(value: String?, eventID: String?) {
        self.value = value
        self.eventID = eventID
    }

    /// The membership `memberEvent` records (`nil`: the user has none).
    public init(_ memberEvent: AuthEvent?) {
        self.init(value: memberEvent?.pdu.membership, eventID: memberEvent?.eventID)
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
