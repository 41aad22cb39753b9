import MatrixCore
import MatrixCrypto

/// A `send_leave` body that passed every check needing neither storage nor keys — the room
/// version's format, `room_id` and event ID as in the path, a self-leave, the sender on the
/// requesting server — with the bytes its signatures cover and the signatures it must carry.
public struct LeaveCandidate: Sendable {
    /// The event as received.
    public let event: PDU
    /// The computed ID (equal to the path's byte for byte): the one that names the event.
    public let eventID: String
    /// The redacted event's canonical bytes: what signatures cover and the reference hash hashes.
    public let signingBytes: [UInt8]
    /// The authenticated server that sent the request.
    public let origin: String

    /// Checks `json` (received for `roomID`/`eventID` from `origin`) in the order the contract
    /// answers them: format, path IDs, leave shape, origin.
    public static func parse(
        _ json: JSONObject, roomID: String, eventID pathEventID: String, origin: String, version: RoomVersion
    ) throws(LeaveRefusal) -> LeaveCandidate {
        guard let bodyRoom = json["room_id"]?.stringValue, bodyRoom.bytesEqual(roomID) else { throw .roomIDMismatch }
        let event: PDU
        do { event = try PDU(json: json, roomVersion: version) } catch { throw .malformed(error) }
        // A parsed PDU has only numbers its version can encode, and v1–v2 an `event_id`: neither
        // step below can fail for it, but their errors are still answered as malformed.
        let bytes: [UInt8]
        do {
            bytes = try EventHashing.redactedSigningBytes(of: event.json, version: version)
        } catch {
            throw .malformed(.nonIntegerNumber("\(error)"))
        }
        guard let computedID = try? EventHashing.eventID(of: event.json, signingBytes: bytes, version: version) else {
            throw .malformed(.missingMember("event_id"))
        }
        guard computedID.bytesEqual(pathEventID) else { throw .eventIDMismatch(computed: computedID, path: pathEventID) }
        guard event.type.bytesEqual(EventType.member), let stateKey = event.stateKey else { throw .notAMemberStateEvent }
        guard event.membership.bytesEqual(Membership.leave) else { throw .notALeave }
        guard stateKey.bytesEqual(event.sender) else { throw .stateKeyNotSender }
        guard event.senderServer.bytesEqual(origin) else { throw .senderNotOnOrigin(sender: event.sender, origin: origin) }
        return LeaveCandidate(event: event, eventID: computedID, signingBytes: bytes, origin: origin)
    }

    /// The servers whose signatures the event needs (events-and-room-versions §5): the sender's
    /// server and, in v1–v2, the server of the `event_id`.
    public var requiredServers: [String] { ServerSignatures.requiredServers(of: event) }

    /// What the signatures' keys are used for (their validity is judged at the event's timestamp from v5).
    public var keyUse: KeyUse {
        .event(originServerTS: event.originServerTS, enforcesKeyValidity: event.roomVersion.enforcesKeyValidity)
    }

    /// The event's `signatures[server]`, if it is an object.
    public func signatures(of server: String) -> JSONObject? {
        event.json["signatures"]?[server]?.objectValue
    }
}
