import LeaveDecision
import MatrixCore
import MatrixCrypto
import TestSupport
import XCTest

/// The rooms of events.json (one per room version) and the send_leave cases of leave-cases.json,
/// read from the files as they are.
struct VectorRoom {
    let version: RoomVersion
    let roomID: String
    /// Every event of the room as stored (`stored_pdu` where present), by event ID.
    let events: [ExactString: AuthEvent]
    /// Each event's stream position: its place in the file (which lists a room's events in order).
    let positions: [ExactString: Int64]
    /// The room's current state at its end.
    let finalState: [StateKey: AuthEvent]

    static func all() throws -> [String: VectorRoom] {
        let file = try XCTUnwrap(JSONParser.parse(try Vectors.bytes("events")).objectValue)
        var rooms: [String: VectorRoom] = [:]
        for member in try XCTUnwrap(file["versions"]?.objectValue).members {
            let room = try XCTUnwrap(member.value.objectValue)
            let version = try XCTUnwrap(RoomVersion(member.key))
            var events: [ExactString: AuthEvent] = [:]
            var positions: [ExactString: Int64] = [:]
            for (index, value) in (room["events"]?.arrayValue ?? []).enumerated() {
                let json = try XCTUnwrap((value["stored_pdu"] ?? value["pdu"])?.objectValue)
                let id = try XCTUnwrap(value["event_id"]?.stringValue)
                events[ExactString(id)] = AuthEvent(eventID: id, pdu: try PDU(json: json, roomVersion: version))
                positions[ExactString(id)] = Int64(index + 1)
            }
            var finalState: [StateKey: AuthEvent] = [:]
            for entry in try XCTUnwrap(room["final_state"]?.objectValue).members {
                let parts = entry.key.split(separator: "|", maxSplits: 1, omittingEmptySubsequences: false)
                let key = StateKey(type: String(parts[0]), stateKey: parts.count > 1 ? String(parts[1]) : "")
                finalState[key] = try XCTUnwrap(events[ExactString(try XCTUnwrap(entry.value.stringValue))])
            }
            rooms[member.key] = VectorRoom(
                version: version, roomID: try XCTUnwrap(room["room_id"]?.stringValue), events: events, positions: positions,
                finalState: finalState)
        }
        return rooms
    }

    /// What storage would return for `body` (a leave of this room): the current state at the
    /// sender's keys, the room's events among the cited IDs, and whether it is stored already.
    func snapshot(for body: JSONObject, alreadyStored: Bool = false) -> LeaveSnapshot {
        let sender = body["sender"]?.stringValue ?? ""
        let state = RoomState.keys(for: sender).compactMap { finalState[$0] }
        let authEvents = references(body["auth_events"]).compactMap { events[ExactString($0)] }
        var stored: [ExactString: Int64] = [:]
        for id in references(body["auth_events"]) + references(body["prev_events"]) { stored[ExactString(id)] = positions[ExactString(id)] }
        return LeaveSnapshot(version: version, state: state, authEvents: authEvents, streamPositions: stored, alreadyStored: alreadyStored)
    }

    /// Event IDs of `prev_events`/`auth_events` in either format.
    private func references(_ value: JSONValue?) -> [String] {
        (value?.arrayValue ?? []).compactMap { $0.stringValue ?? $0.arrayValue?.first?.stringValue }
    }
}

/// One case of leave-cases.json.
struct VectorLeaveCase {
    let version: String
    let name: String
    let origin: String
    let pathRoomID: String
    let pathEventID: String
    let body: JSONObject
    let expected: JSONObject

    var label: String { "v\(version) \(name)" }

    /// `expected.recommended`: "200…", or "<status> <errcode>".
    var recommended: (status: Int, errcode: String?) {
        let words = (expected["recommended"]?.stringValue ?? "").split(separator: " ")
        return (Int(words.first ?? "") ?? 0, words.count > 1 && words[1].hasPrefix("M_") ? String(words[1]) : nil)
    }

    static func all() throws -> [VectorLeaveCase] {
        let file = try XCTUnwrap(JSONParser.parse(try Vectors.bytes("leave-cases")).objectValue)
        var cases: [VectorLeaveCase] = []
        for version in try XCTUnwrap(file["versions"]?.objectValue).members {
            for value in version.value["cases"]?.arrayValue ?? [] {
                let name = try XCTUnwrap(value["name"]?.stringValue)
                cases.append(VectorLeaveCase(
                    version: version.key, name: name, origin: try XCTUnwrap(value["origin"]?.stringValue, name),
                    pathRoomID: try XCTUnwrap(value["path_room_id"]?.stringValue, name),
                    pathEventID: try XCTUnwrap(value["path_event_id"]?.stringValue, name),
                    body: try XCTUnwrap(value["body"]?.objectValue, name), expected: try XCTUnwrap(value["expected"]?.objectValue, name)))
            }
        }
        return cases
    }
}

/// The vector servers' keys (events.json `servers`): public keys for the decision, signing keys
/// to countersign and to re-sign altered events.
struct VectorServers {
    let publicKeys: [ExactString: ServerSignatures.Keys]
    let signingKeys: [String: SigningKey]

    init() throws {
        let file = try XCTUnwrap(JSONParser.parse(try Vectors.bytes("events")).objectValue)
        var publicKeys: [ExactString: ServerSignatures.Keys] = [:]
        var signingKeys: [String: SigningKey] = [:]
        for server in try XCTUnwrap(file["servers"]?.objectValue).members {
            let keyID = try XCTUnwrap(server.value["key_id"]?.stringValue)
            let seed = try XCTUnwrap(server.value["seed_unpadded_base64"]?.stringValue.flatMap(Base64.decode))
            let key = try SigningKey(version: String(keyID.dropFirst("ed25519:".count)), seed: seed)
            signingKeys[server.key] = key
            publicKeys[ExactString(server.key)] = ServerSignatures.Keys(keys: [ExactString(keyID): key.publicKey])
        }
        self.publicKeys = publicKeys
        self.signingKeys = signingKeys
    }
}
