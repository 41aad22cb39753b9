import MatrixCore
import Storage

/// The part of a room's current state a leave is decided on — create event, power levels, server
/// ACL and the user's own member event — parsed into the auth rules' terms.
struct RoomState {
    let version: RoomVersion
    let events: [StateKey: AuthEvent]

    /// The state keys a leave of `userID` is decided on.
    static func keys(for userID: String) -> [StateKey] {
        [.create, .powerLevels, .serverACL, .member(userID)]
    }

    init(version: RoomVersion, records: [EventRecord]) throws(MatrixError) {
        self.version = version
        var events: [StateKey: AuthEvent] = [:]
        for record in records {
            let event = try Self.parseStored(record, version: version)
            if let key = event.pdu.stateKeyPair { events[key] = event }
        }
        self.events = events
    }

    /// The user's current membership (`nil`: never in the room).
    func membership(of userID: String) -> String? {
        events[.member(userID)]?.pdu.membership
    }

    /// Whether the room's server ACL admits `server` (no ACL event: every server).
    func aclAllows(_ server: String) -> Bool {
        ServerACL.allows(server, aclContent: events[.serverACL]?.pdu.content)
    }

    /// Parses an event we stored. Stored events passed these checks when they were stored, so a
    /// failure here means the database was changed behind our back: answered as 503, logged.
    static func parseStored(_ record: EventRecord, version: RoomVersion) throws(MatrixError) -> AuthEvent {
        do {
            guard case .object(let json) = try JSONParser.parse(record.pdu) else {
                throw MatrixError.unavailable("Stored event \(record.eventID) is not a JSON object")
            }
            return AuthEvent(eventID: record.eventID, pdu: try PDU(json: json, roomVersion: version), isRejected: false)
        } catch let error as MatrixError {
            throw error
        } catch {
            throw .unavailable("Stored event \(record.eventID) cannot be read: \(error)")
        }
    }
}
