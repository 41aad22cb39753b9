/// A received event (PDU) that conforms to its room version's federation format.
///
/// ``init(json:roomVersion:)`` checks the format (required members and their types — `signatures`
/// may be absent, which the signature check refuses —, identifier
/// forms, the 255-byte fields, at most 20 `prev_events` and 10 `auth_events`, the depth range,
/// the numbers allowed by the version, the 65536-byte size, v12's create-event rules) and reads
/// the members once. ``json`` stays exactly as received: hashes, signatures and the stored copy
/// are computed from it.
public struct PDU: Sendable {
    /// Largest PDU: canonical JSON with signatures, without `unsigned`.
    public static let maxBytes = 65536
    /// Longest `type`, `sender`, `room_id`, `state_key` and `event_id`, in UTF-8 bytes.
    public static let maxIdentifierBytes = 255
    public static let maxPrevEvents = 20
    public static let maxAuthEvents = 10

    /// What an empty `unsigned` member adds to an encoding: Synapse counts every PDU with one
    /// (`get_pdu_json` always has `unsigned`, `{}` at least), so a PDU sent without it must fit
    /// ``maxBytes`` with these bytes added, or Synapse refuses it as too large.
    public static let emptyUnsignedBytes = #","unsigned":{}"#.utf8.count

    /// The bytes `json` counts against ``maxBytes``: its encoding with signatures, without `unsigned`.
    public static func countedBytes(of json: JSONObject) -> Int {
        var scan = EventScan(strict: false)
        return scan.length(of: json, skipping: "unsigned")
    }

    /// The event exactly as received (never reordered or modified).
    public let json: JSONObject
    public let roomVersion: RoomVersion
    public let type: String
    /// Present exactly for state events.
    public let stateKey: String?
    public let sender: String
    /// The server of ``sender`` (after its first `:`), read once here for the signature and origin checks.
    public let senderServer: String
    /// `nil` only for a v12 `m.room.create`, which has no `room_id`.
    public let roomID: String?
    public let depth: Int64
    public let originServerTS: Int64
    public let content: JSONObject
    /// The IDs of `prev_events`, in either entry format.
    public let prevEventIDs: [String]
    /// The IDs of `auth_events`, in either entry format.
    public let authEventIDs: [String]
    /// v1–v2: the `event_id` member (v3+ compute the ID from the reference hash).
    public let explicitEventID: String?

    public init(json: JSONObject, roomVersion: RoomVersion) throws(PDUError) {
        let fields = PDUFields(json: json, version: roomVersion)
        type = try fields.identifier("type")
        sender = try fields.identifier("sender")
        guard let senderID = UserID(sender, historical: true) else {
            throw .invalidIdentifier(member: "sender", value: sender)
        }
        senderServer = senderID.server
        let isV12Create = roomVersion.roomIDFromCreateEvent && type.bytesEqual(EventType.create)
        if isV12Create, json["room_id"] == nil {
            roomID = nil
        } else {
            let room = try fields.identifier("room_id")
            guard RoomID(room) != nil else { throw .invalidIdentifier(member: "room_id", value: room) }
            roomID = room
        }
        stateKey = try fields.optionalIdentifier("state_key")
        content = try fields.object("content")
        originServerTS = try fields.integer("origin_server_ts")
        depth = try fields.integer("depth")
        guard depth >= 0, depth <= roomVersion.maxDepth else { throw .depthOutOfRange(depth) }
        prevEventIDs = try fields.references("prev_events", limit: PDU.maxPrevEvents)
        authEventIDs = try fields.references("auth_events", limit: PDU.maxAuthEvents)
        try fields.checkHashes()
        try fields.checkSignatures()
        if json["unsigned"] != nil { _ = try fields.object("unsigned") }
        if roomVersion.eventIDFormat == .explicit {
            let eventID = try fields.identifier("event_id")
            guard PDUFields.isEventID(eventID, format: .explicit) else {
                throw .invalidIdentifier(member: "event_id", value: eventID)
            }
            explicitEventID = eventID
        } else {
            explicitEventID = nil
        }
        if !roomVersion.redactsInContent, json["redacts"] != nil { _ = try fields.optionalIdentifier("redacts") }
        if roomVersion.roomIDFromCreateEvent, let roomID, !isV12Create {
            let createEventID = RoomVersion.createEventID(ofRoom: roomID)
            if authEventIDs.contains(where: { $0.bytesEqual(createEventID) }) { throw .createEventInAuthEvents(createEventID) }
        }
        var scan = EventScan(strict: roomVersion.strictCanonicalJSON)
        let size = scan.length(of: json, skipping: "unsigned")
        if let violation = scan.violation { throw violation }
        guard size <= PDU.maxBytes else { throw .tooLarge(bytes: size) }
        self.json = json
        self.roomVersion = roomVersion
    }

    /// Whether this is a state event (it has a `state_key`).
    public var isState: Bool { stateKey != nil }

    /// `content.membership` of an `m.room.member` event (`nil` for other types or a non-string).
    public var membership: String? {
        type.bytesEqual(EventType.member) ? content["membership"]?.stringValue : nil
    }

    /// The event an `m.room.redaction` redacts: top-level `redacts` in v1–v10, `content.redacts` in v11+.
    public var redacts: String? {
        guard type.bytesEqual(EventType.redaction) else { return nil }
        return (roomVersion.redactsInContent ? content["redacts"] : json["redacts"])?.stringValue
    }

    /// The (type, state key) this event occupies in the room state; `nil` for a non-state event.
    public var stateKeyPair: StateKey? {
        stateKey.map { StateKey(type: type, stateKey: $0) }
    }
}
