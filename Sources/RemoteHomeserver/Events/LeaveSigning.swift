import MatrixCore
import MatrixCrypto

/// What a leaving server does with a make_leave answer (spec: leave-handshake.md §1.3).
extension EventSigner {
    /// Reads a make_leave response body (`{"room_version", "event"}`), checks the template and signs
    /// it (see ``signLeave(template:version:roomID:userID:eventID:)``). A missing `room_version`
    /// is refused: this worker always sends it.
    public func signLeave(makeLeaveResponse body: JSONValue, roomID: String, userID: String,
                          eventID: String? = nil) throws(LeaveTemplateError) -> SignedEvent {
        guard let versionID = body["room_version"]?.stringValue else { throw .missingRoomVersion }
        guard let version = RoomVersion(versionID) else { throw .unknownRoomVersion(versionID) }
        guard let template = body["event"]?.objectValue else { throw .missingTemplate }
        return try signLeave(template: template, version: version, roomID: roomID, userID: userID, eventID: eventID)
    }

    /// Checks that `template` is a leave of `userID` (one of this server's users) from `roomID`
    /// — `room_id`, `sender`, `state_key`, `type`, `content.membership` — and signs it as this
    /// server: in v1–v2 with its own `event_id` (`eventID`, or a fresh `$leave-…:<server>`),
    /// the template's `origin_server_ts` and any other member kept, the content hash added, the
    /// redacted form signed.
    public func signLeave(template: JSONObject, version: RoomVersion, roomID: String, userID: String,
                          eventID: String? = nil) throws(LeaveTemplateError) -> SignedEvent {
        guard UserID(userID)?.server == serverName else { throw .notOurUser(userID) }
        try Self.expect(template, "room_id", roomID)
        try Self.expect(template, "sender", userID)
        try Self.expect(template, "state_key", userID)
        try Self.expect(template, "type", "m.room.member")
        guard template["content"]?["membership"]?.stringValue == "leave" else {
            throw .mismatch(member: "content.membership", expected: "leave",
                            found: template["content"]?["membership"]?.stringValue)
        }
        var event = template
        event["hashes"] = nil
        event["signatures"] = nil
        event["unsigned"] = nil
        if version.eventIDFormat == .explicit {
            event["event_id"] = .string(eventID ?? "$leave-\(UInt64.random(in: 0...UInt64.max)):\(serverName)")
        }
        do {
            return try hashAndSign(event, version: version)
        } catch {
            throw .nonCanonical(error.description)
        }
    }

    private static func expect(_ template: JSONObject, _ member: String, _ expected: String) throws(LeaveTemplateError) {
        let found = template[member]?.stringValue
        guard found == expected else { throw .mismatch(member: member, expected: expected, found: found) }
    }
}

/// Why a make_leave answer was not signed.
public enum LeaveTemplateError: Error, Equatable, CustomStringConvertible {
    case missingRoomVersion
    case unknownRoomVersion(String)
    case missingTemplate
    /// The user to leave is not one of the signing server's users.
    case notOurUser(String)
    /// A template member differs from what was asked for.
    case mismatch(member: String, expected: String, found: String?)
    /// The template holds a number canonical JSON cannot carry.
    case nonCanonical(String)

    public var description: String {
        switch self {
        case .missingRoomVersion: return "make_leave answer has no room_version"
        case .unknownRoomVersion(let version): return "make_leave answer names unknown room version \(version)"
        case .missingTemplate: return "make_leave answer has no event template"
        case .notOurUser(let userID): return "\(userID) is not a user of this server"
        case .mismatch(let member, let expected, let found):
            return "template \(member) is \(found.map { "\"\($0)\"" } ?? "missing"), expected \"\(expected)\""
        case .nonCanonical(let reason): return "template is not canonical JSON: \(reason)"
        }
    }
}
