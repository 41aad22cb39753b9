import MatrixCore
import Storage

/// The part of a room's current state a leave is decided on — create event, power levels, server
/// ACL and the user's own member event — parsed into the auth rules' terms.
struct RoomState {
    let version: RoomVersion
    let events: [StateKey: AuthEvent]
    /// The same entries as stored.
    let records: [StateKey: EventRecord]

    /// The state keys a leave of `userID` is decided on.
    static func keys(for userID: String) -> [StateKey] {
        [.create, .powerLevels, .serverACL, .member(userID)]
    }

    init(version: RoomVersion, records stored: [EventRecord], parsed: ParsedEventCache) throws(MatrixError) {
        self.version = version
        var events: [StateKey: AuthEvent] = [:]
        var records: [StateKey: EventRecord] = [:]
        for record in stored {
            let event = try parsed.event(record, version: version)
            if let key = event.pdu.stateKeyPair {
                events[key] = event
                records[key] = record
            }
        }
        self.events = events
        self.records = records
    }

    /// The user's current membership (`nil`: never in the room).
    func membership(of userID: String) -> String? {
        events[.member(userID)]?.pdu.membership
    }

    /// Whether the room's server ACL admits `server` (no ACL event: every server).
    func aclAllows(_ server: String) -> Bool {
        ServerACL.allows(server, aclContent: events[.serverACL]?.pdu.content)
    }
}
