import MatrixCore

/// Why an event's ID or room ID cannot be computed.
public enum EventHashingError: Error, Equatable, CustomStringConvertible {
    /// The event holds a number its room version cannot hash (see ``EventHashing``).
    case nonCanonicalJSON(CanonicalJSONError)
    /// v1–v2: the event has no string `event_id`.
    case missingEventID
    /// The event has no string `room_id` (and is not a v12 create event).
    case missingRoomID

    public var description: String {
        switch self {
        case .nonCanonicalJSON(let error): return error.description
        case .missingEventID: return "event has no event_id"
        case .missingRoomID: return "event has no room_id"
        }
    }
}

/// Content hashes, reference hashes, event IDs and the bytes event signatures cover
/// (spec: events-and-room-versions.md §4–§5).
///
/// Encoding: versions with strict canonical JSON (v6+) use canonical JSON and refuse floats and
/// integers beyond ±(2^53 − 1); v1–v5 write large integers digit for digit (as Synapse does) and
/// refuse only numbers with a fraction or exponent. Without a version, the strict form is used.
public enum EventHashing {
    /// SHA-256 of the event without `unsigned`, `signatures` and `hashes` (strict canonical JSON).
    public static func contentHash(of event: JSONObject) throws(CanonicalJSONError) -> [UInt8] {
        SHA256.hash(try encode(event.removing("unsigned", "signatures", "hashes"), strict: true))
    }

    /// SHA-256 of the event without `unsigned`, `signatures` and `hashes`, encoded per `version`.
    public static func contentHash(of event: JSONObject, version: RoomVersion) throws(CanonicalJSONError) -> [UInt8] {
        SHA256.hash(try encode(event.removing("unsigned", "signatures", "hashes"), strict: version.strictCanonicalJSON))
    }

    /// Whether `hashes.sha256` decodes to the event's content hash (strict canonical JSON).
    public static func hasValidContentHash(_ event: JSONObject) -> Bool {
        matchesStoredHash(event) { () throws(CanonicalJSONError) in try contentHash(of: event) }
    }

    /// Whether `hashes.sha256` decodes to the event's content hash, encoded per `version`.
    public static func hasValidContentHash(_ event: JSONObject, version: RoomVersion) -> Bool {
        matchesStoredHash(event) { () throws(CanonicalJSONError) in try contentHash(of: event, version: version) }
    }

    /// The event as a receiving server goes on with it: itself when its content hash matches,
    /// else its redacted form (spec: an event that fails the hash check is redacted before it is
    /// processed further — its signatures, over the redacted form, still hold). Stored histories
    /// carry such events too: a redacted event no longer matches its hash.
    public static func redactedIfContentHashMismatch(_ event: PDU) throws(PDUError) -> PDU {
        if hasValidContentHash(event.json, version: event.roomVersion) { return event }
        return try PDU(json: Redaction.redact(event.json, version: event.roomVersion), roomVersion: event.roomVersion)
    }

    /// SHA-256 of ``redactedSigningBytes(of:version:)``.
    public static func referenceHash(of event: JSONObject, version: RoomVersion) throws(CanonicalJSONError) -> [UInt8] {
        SHA256.hash(try redactedSigningBytes(of: event, version: version))
    }

    /// The redacted event without `signatures` and `unsigned`, encoded: the bytes every event
    /// signature covers and the reference-hash input.
    public static func redactedSigningBytes(of event: JSONObject, version: RoomVersion) throws(CanonicalJSONError)
        -> [UInt8]
    {
        let redacted = Redaction.redact(event, version: version).removing("signatures", "unsigned")
        return try encode(redacted, strict: version.strictCanonicalJSON)
    }

    /// The event's ID: the `event_id` member in v1–v2, else `$` + the reference hash in the
    /// version's base64 alphabet.
    public static func eventID(of event: JSONObject, version: RoomVersion) throws(EventHashingError) -> String {
        if version.eventIDFormat == .explicit {
            guard let id = event["event_id"]?.stringValue else { throw .missingEventID }
            return id
        }
        let bytes: [UInt8]
        do { bytes = try redactedSigningBytes(of: event, version: version) } catch { throw .nonCanonicalJSON(error) }
        return try eventID(of: event, signingBytes: bytes, version: version)
    }

    /// As ``eventID(of:version:)`` for an event whose ``redactedSigningBytes(of:version:)`` are
    /// already at hand (they are hashed, not computed again).
    public static func eventID(of event: JSONObject, signingBytes: [UInt8], version: RoomVersion) throws(EventHashingError)
        -> String
    {
        switch version.eventIDFormat {
        case .explicit:
            guard let id = event["event_id"]?.stringValue else { throw .missingEventID }
            return id
        case .base64: return "$" + Base64.encodeUnpadded(SHA256.hash(signingBytes))
        case .urlSafeBase64: return "$" + Base64.encodeUnpaddedURLSafe(SHA256.hash(signingBytes))
        }
    }

    /// The room an event belongs to: its `room_id`, or for a v12 create event (which has none)
    /// `!` + its event ID without `$`.
    public static func roomID(of event: JSONObject, version: RoomVersion) throws(EventHashingError) -> String {
        if version.roomIDFromCreateEvent, event["type"]?.stringValue.bytesEqual(EventType.create) == true, event["room_id"] == nil {
            return RoomVersion.roomID(ofCreateEvent: try eventID(of: event, version: version))
        }
        guard let roomID = event["room_id"]?.stringValue else { throw .missingRoomID }
        return roomID
    }

    private static func matchesStoredHash(_ event: JSONObject, _ compute: () throws(CanonicalJSONError) -> [UInt8])
        -> Bool
    {
        guard let stored = event["hashes"]?["sha256"]?.stringValue, let expected = Base64.decode(stored),
            let actual = try? compute()
        else { return false }
        return expected == actual
    }

    private static func encode(_ object: JSONObject, strict: Bool) throws(CanonicalJSONError) -> [UInt8] {
        if strict { return try object.canonicalBytes() }
        if case .nonIntegerNumber(let text)? = EventNumbers.firstViolation(in: object, strict: false) {
            throw .nonCanonicalNumber(text)
        }
        return object.compactBytes()
    }
}
