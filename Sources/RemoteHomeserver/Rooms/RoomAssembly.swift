import MatrixCore

/// A room's event chain and state while ``RoomBuilder`` appends events to it, and afterwards
/// (inside ``BuiltRoom``) the basis for templates of further events.
struct RoomAssembly: Sendable {
    let version: RoomVersion
    /// Unique per room: names the v1–v2 event IDs (`$<n>-<label>:<server>`).
    let label: String
    private(set) var roomID: String?
    private var timestamp: Int64
    private(set) var events: [SignedEvent] = []
    private(set) var state: [StateKey: SignedEvent] = [:]
    private(set) var members: [String: BuiltRoom.MemberState] = [:]

    /// `roomID` nil: the room ID comes from the create event (v12).
    init(version: RoomVersion, label: String, roomID: String?, timestamp: Int64) {
        self.version = version
        self.label = label
        self.roomID = roomID
        self.timestamp = timestamp
    }

    mutating func reserve(events count: Int) {
        events.reserveCapacity(count)
        state.reserveCapacity(count)
        members.reserveCapacity(count)
    }

    /// The next event before hashing and signing: it follows the last event (`prev_events`,
    /// `depth`) and cites the auth events the version's rules select from the current state.
    /// `stateKey` nil: a message event (no `state_key`).
    func template(_ content: JSONObject, type: String, stateKey: String?, sender: String,
                  originServerTS: Int64) -> JSONObject {
        var event: JSONObject = [
            "type": .string(type), "sender": .string(sender),
            "content": .object(content), "origin_server_ts": .integer(originServerTS),
            "depth": .integer(Int64(events.count + 1)),
            "prev_events": .array(events.last.map { [$0.reference(in: version)] } ?? []),
            "auth_events": .array(authEvents(type: type, sender: sender, stateKey: stateKey, content: content)),
        ]
        if let stateKey { event["state_key"] = .string(stateKey) }
        if let roomID { event["room_id"] = .string(roomID) }
        return event
    }

    /// Creates, hashes and signs the next event and applies it to the state. The first event
    /// appended must be the create event (in v12 it fixes the room ID).
    mutating func append(_ content: JSONObject, type: String, stateKey: String?, sender: String,
                         signer: EventSigner) throws(RoomBuildError) {
        var event = template(content, type: type, stateKey: stateKey, sender: sender, originServerTS: timestamp)
        if version.eventIDFormat == .explicit {
            event["event_id"] = .string("$\(events.count + 1)-\(label):\(signer.serverName)")
        }
        let signed: SignedEvent
        do {
            signed = try signer.hashAndSign(event, version: version)
        } catch {
            throw .nonCanonicalContent(error.description)
        }
        if roomID == nil {
            roomID = "!" + signed.eventID.dropFirst()
        }
        events.append(signed)
        timestamp += 1
        guard let stateKey else { return }
        state[StateKey(type: type, stateKey: stateKey)] = signed
        if type == EventType.member, let membership = content["membership"]?.stringValue {
            members[stateKey] = BuiltRoom.MemberState(membership: membership, eventID: signed.eventID)
        }
    }

    /// Takes in an event made elsewhere (by the fleet, read from its feed): it becomes the last
    /// event of the chain and, as a state event, the current state of its key.
    mutating func apply(_ event: SignedEvent) {
        events.append(event)
        guard let type = event.pdu["type"]?.stringValue, let stateKey = event.pdu["state_key"]?.stringValue else { return }
        state[StateKey(type: type, stateKey: stateKey)] = event
        if type == EventType.member, let membership = event.pdu["content"]?["membership"]?.stringValue {
            members[stateKey] = BuiltRoom.MemberState(membership: membership, eventID: event.eventID)
        }
    }

    /// The references of the state events the version's rules select as an event's auth events.
    private func authEvents(type: String, sender: String, stateKey: String?, content: JSONObject) -> [JSONValue] {
        AuthRules.authEventSelection(for: type, sender: sender, stateKey: stateKey, content: content, version: version)
            .compactMap { state[$0]?.reference(in: version) }
    }
}
