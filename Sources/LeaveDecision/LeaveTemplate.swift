import MatrixCore
import MatrixCrypto

/// `make_leave`'s answer as a pure function: the checks Synapse makes, in its order — server ACL,
/// user on the origin server, auth rules (the user's membership must allow a leave) — and the
/// template built on the room's current state and forward extremities.
public struct LeaveTemplate: Sendable {
    /// The largest number of forward extremities a template cites (the spec's `prev_events` limit).
    public static let maxPrevEvents = 20

    public let roomID: String
    public let userID: String
    /// The authenticated server that asked.
    public let origin: String
    /// The current state at ``RoomState/keys(for:)`` of the user.
    public let state: RoomState
    /// Up to ``maxPrevEvents`` forward extremities, deepest first.
    public let extremities: [Extremity]

    /// A forward extremity as the template cites it: ID and depth, and in v1–v2 (reference pairs)
    /// the stored event, whose reference hash the pair carries. Other versions need no parse.
    public struct Extremity: Sendable {
        public let eventID: String
        public let depth: Int64
        public let event: PDU?

        public init(eventID: String, depth: Int64, event: PDU?) {
            self.eventID = eventID
            self.depth = depth
            self.event = event
        }
    }

    public init(roomID: String, userID: String, origin: String, state: RoomState, extremities: [Extremity]) {
        self.roomID = roomID
        self.userID = userID
        self.origin = origin
        self.state = state
        self.extremities = extremities
    }

    /// `{"room_version", "event"}`. v1–v2 templates carry an `event_id` of `serverName` with
    /// `eventIDNumber` as its local part (the service draws it at random).
    public func build(now: Int64, serverName: String, eventIDNumber: UInt64) throws(LeaveRefusal) -> JSONObject {
        let version = state.version
        guard state.aclAllows(origin) else { throw .bannedByServerACL(origin: origin) }
        guard RoomState.isUser(userID, on: origin) else { throw .userNotOnOrigin(user: userID, origin: origin) }
        let content: JSONObject = ["membership": .string(Membership.leave)]
        var template: JSONObject = [
            "type": .string(EventType.member),
            "state_key": .string(userID),
            "sender": .string(userID),
            "content": .object(content),
            "room_id": .string(roomID),
            "origin_server_ts": .integer(now),
            // One deeper than the deepest extremity, capped at the version's maximum (2^63 − 1 in v1–v5,
            // where a member may already have sent that depth): never an overflow.
            "depth": .integer(min((extremities.map(\.depth).max() ?? 0).saturatingAdd(1), version.maxDepth)),
        ]
        let authKeys = AuthRules.authEventSelection(
            for: EventType.member, sender: userID, stateKey: userID, content: content, version: version)
        template["prev_events"] = Self.references(extremities.map { ($0.eventID, $0.event) }, version: version)
        template["auth_events"] = Self.references(
            authKeys.compactMap { state.events[$0] }.map { ($0.eventID, $0.pdu) }, version: version)
        if version.eventIDFormat == .explicit {
            template["event_id"] = .string("$\(eventIDNumber):\(serverName)")
        }
        try checkIsAllowed(template)
        return ["room_version": .string(version.id), "event": .object(template)]
    }

    /// The leave the template describes must pass the auth rules against the current state;
    /// refused (not in the room, banned, already left) → ``LeaveRefusal/cannotLeave(_:)``.
    private func checkIsAllowed(_ template: JSONObject) throws(LeaveRefusal) {
        var candidate = template
        candidate["hashes"] = ["sha256": ""]
        let pdu: PDU
        do { pdu = try PDU(json: candidate, roomVersion: state.version) } catch { throw .templateUnbuildable("\(error)") }
        do {
            try AuthRules.check(pdu, against: state.events, signatures: KeyedAuthSignatures.none)
        } catch {
            throw .cannotLeave(error)
        }
    }

    /// `prev_events`/`auth_events` entries in the version's format: IDs, or for v1–v2
    /// `[id, {"sha256": reference hash}]` pairs computed from the stored events (an event without
    /// a computable hash is left out).
    static func references(_ events: [(id: String, event: PDU?)], version: RoomVersion) -> JSONValue {
        guard version.referenceFormat == .pairs else { return .array(events.map { .string($0.id) }) }
        return .array(events.compactMap { id, event in
            guard let event, let hash = try? EventHashing.referenceHash(of: event.json, version: version) else { return nil }
            return [.string(id), ["sha256": .string(Base64.encodeUnpadded(hash))]]
        })
    }
}
