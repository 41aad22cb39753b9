import MatrixCore

/// A complete room made by ``RoomBuilder``: every event hashed and signed, in an order where each
/// event's auth and prev events come before it — the input of `leave-worker rooms import`.
public struct BuiltRoom: Sendable {
    /// A member's final membership and the event that set it.
    public struct MemberState: Sendable, Hashable {
        public let membership: String
        public let eventID: String
    }

    let assembly: RoomAssembly
    private let indexByEventID: [String: Int]
    /// The room's creator and admin, on the resident server.
    public let adminUserID: String

    init(assembly: RoomAssembly, adminUserID: String) {
        self.assembly = assembly
        self.adminUserID = adminUserID
        var index: [String: Int] = [:]
        index.reserveCapacity(assembly.events.count)
        for (position, event) in assembly.events.enumerated() { index[event.eventID] = position }
        self.indexByEventID = index
    }

    public var version: RoomVersion { assembly.version }
    public var roomID: String { assembly.roomID ?? "" }
    /// All events, oldest first (each one's `prev_events` is the one before it).
    public var events: [SignedEvent] { assembly.events }
    /// The current state: event ID by (type, state key).
    public var state: [StateKey: String] { assembly.state.mapValues(\.eventID) }
    /// The final membership of every user who has one, by user ID (the admin included).
    public var members: [String: MemberState] { assembly.members }
    /// The room's only forward extremity (the last event).
    public var forwardExtremity: String { assembly.events.last?.eventID ?? "" }

    /// The event with `eventID`, if it is part of the room.
    public func event(_ eventID: String) -> SignedEvent? {
        indexByEventID[eventID].map { assembly.events[$0] }
    }

    /// The users whose final membership is `membership`, sorted.
    public func users(withMembership membership: String) -> [String] {
        assembly.members.filter { $0.value.membership == membership }.map(\.key).sorted()
    }

    /// The leave template a resident server answers make_leave with right after this room was
    /// imported: `prev_events` = the last event, `depth` one more, `auth_events` selected from
    /// the final state. (Without `event_id` in v1–v2: the leaving server sets its own.)
    public func leaveTemplate(userID: String, originServerTS: Int64) -> JSONObject {
        assembly.template(["membership": "leave"], type: EventType.member, stateKey: userID, sender: userID,
                          originServerTS: originServerTS)
    }

    /// `{"room_version": "N", "events": [PDU, …]}`.
    public var importDocument: JSONObject {
        ["room_version": .string(version.id), "events": .array(events.map { .object($0.pdu) })]
    }

    /// ``importDocument`` as compact JSON bytes (the file `rooms import` reads).
    public func importBytes() -> [UInt8] {
        importDocument.compactBytes()
    }
}
