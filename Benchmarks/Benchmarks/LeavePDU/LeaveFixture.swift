import MatrixCore
import MatrixCrypto

/// A small room of version 10 held by `resident.test` with one member, `@alice:remote.test`, and
/// the ~1 KB leave that remote.test sends for her, hashed and signed as a real server would:
/// what every benchmark in this target works on. Keys, timestamps and texts are fixed, so the
/// bytes (and so the figures) are the same on every run.
struct LeaveFixture: Sendable {
    static let resident = "resident.test"
    static let origin = "remote.test"
    static let leaver = "@alice:remote.test"

    let version: RoomVersion
    let roomID: String
    /// The room's state before the leave, by (type, state key).
    let state: [StateKey: AuthEvent]
    /// Every event of the room, by event ID (what `auth_events` may cite).
    let events: [ExactString: AuthEvent]
    /// The stored JSON of the events a send_leave reads from Postgres and parses: the state it
    /// is decided on (create, power levels, the leaver's membership) and the leave's auth events.
    let storedEventsReadPerLeave: [[UInt8]]

    /// The leave, signed by remote.test, and the send_leave body that carries it (canonical JSON).
    let leave: RoomWriter.SignedEvent
    let leaveBody: [UInt8]
    let originKey: SigningKey

    /// The send_leave request as the worker receives it.
    let requestURI: String
    let authorizationHeader: String

    init() throws(FixtureError) {
        guard let version = RoomVersion("10") else { throw FixtureError("room version 10 unknown") }
        self.version = version
        roomID = "!benchmark-room:\(Self.resident)"
        let residentKey = try Self.key(version: "a_res", seedByte: 1)
        originKey = try Self.key(version: "a_rem", seedByte: 2)

        let admin = "@admin:\(Self.resident)"
        var room = RoomWriter(version: version, roomID: roomID)
        try room.append(type: EventType.create, stateKey: "", sender: admin,
                        content: ["creator": .string(admin), "room_version": "10"], server: Self.resident, key: residentKey)
        try room.append(type: EventType.member, stateKey: admin, sender: admin,
                        content: ["membership": "join", "displayname": "Admin"], server: Self.resident, key: residentKey)
        try room.append(type: EventType.powerLevels, stateKey: "", sender: admin, content: [
            "users": .object([admin: 100]), "users_default": 0, "events_default": 0, "state_default": 50,
            "ban": 50, "kick": 50, "redact": 50, "invite": 0,
            "events": ["m.room.name": 50, "m.room.power_levels": 100, "m.room.server_acl": 100],
        ], server: Self.resident, key: residentKey)
        try room.append(type: EventType.joinRules, stateKey: "", sender: admin,
                        content: ["join_rule": "public"], server: Self.resident, key: residentKey)
        try room.append(type: EventType.historyVisibility, stateKey: "", sender: admin,
                        content: ["history_visibility": "shared"], server: Self.resident, key: residentKey)
        try room.append(type: EventType.member, stateKey: Self.leaver, sender: Self.leaver,
                        content: ["membership": "join", "displayname": "Alice"], server: Self.origin, key: originKey)
        state = room.state
        events = room.events

        // The leave: cites the last three events as prev_events (a few forward extremities are
        // usual) and carries a reason, which brings it to about 1 KB.
        leave = try room.make(type: EventType.member, stateKey: Self.leaver, sender: Self.leaver, content: [
            "membership": "leave",
            "reason": .string("Moving this conversation to another room: this one has grown too busy to follow. "
                + "Thanks everyone for the discussion, and see you over there soon! (Sent from my phone.)"),
        ], prevEvents: 3, server: Self.origin, key: originKey)
        do { leaveBody = try leave.json.canonicalBytes() } catch { throw FixtureError("leave: \(error)") }

        var stored: [[UInt8]] = []
        for key in [StateKey.create, .powerLevels, .member(Self.leaver)] {
            if let event = state[key] { stored.append(event.pdu.json.compactBytes()) }
        }
        let leavePDU: PDU
        do { leavePDU = try PDU(json: leave.json, roomVersion: version) } catch { throw FixtureError("leave: \(error)") }
        for id in leavePDU.authEventIDs {
            if let event = events[ExactString(id)] { stored.append(event.pdu.json.compactBytes()) }
        }
        storedEventsReadPerLeave = stored

        requestURI = "/_matrix/federation/v2/send_leave/\(roomID)/\(leave.eventID)"
        do {
            authorizationHeader = try XMatrixRequest.authorizationHeader(
                method: "PUT", uri: requestURI, origin: Self.origin, destination: Self.resident,
                content: .object(leave.json), key: originKey)
        } catch {
            throw FixtureError("X-Matrix: \(error)")
        }
    }

    /// A signing key with a fixed seed (every byte `seedByte`).
    private static func key(version: String, seedByte: UInt8) throws(FixtureError) -> SigningKey {
        do { return try SigningKey(version: version, seed: [UInt8](repeating: seedByte, count: 32)) } catch {
            throw FixtureError("key \(version): \(error)")
        }
    }
}

/// Why the fixture could not be built or did not verify (a bug in the benchmark, never data).
struct FixtureError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
