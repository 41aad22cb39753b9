import MatrixCore

/// The part of a room's current state a leave is decided on — create event, power levels, server
/// ACL and the user's own member event — in the auth rules' terms.
public struct RoomState: Sendable {
    public let version: RoomVersion
    public let events: [StateKey: AuthEvent]

    /// The state keys a leave of `userID` is decided on (what the service reads).
    public static func keys(for userID: String) -> [StateKey] {
        [.create, .powerLevels, .serverACL, .member(userID)]
    }

    /// The state from its stored events (those without a state key are left out).
    public init(version: RoomVersion, events stored: [AuthEvent]) {
        self.version = version
        var events: [StateKey: AuthEvent] = [:]
        for event in stored {
            if let key = event.pdu.stateKeyPair { events[key] = event }
        }
        self.events = events
    }

    /// The user's current membership (`nil`: never in the room).
    public func membership(of userID: String) -> String? {
        events[.member(userID)]?.pdu.membership
    }

    /// Whether the room's server ACL admits `server` (no ACL event: every server).
    public func aclAllows(_ server: String) -> Bool {
        guard let acl = events[.serverACL] else { return true }
        return (acl.serverACL ?? ServerACL.Rules(content: acl.pdu.content)).allows(server)
    }

    /// Whether `userID` is a user of `server` (its domain equals the server name byte for byte).
    public static func isUser(_ userID: String, on server: String) -> Bool {
        UserID(userID, historical: true)?.server.bytesEqual(server) == true
    }
}
