import MatrixCore
import MatrixCrypto
import Storage

/// What a room import did, printed as JSON by `leave-worker rooms import`.
public struct ImportReport: Sendable {
    public let roomID: String
    public let roomVersion: String
    public let events: Int
    public let newEvents: Int
    public let memberships: [String: Int]
    public let forwardExtremities: [String]

    public var json: JSONObject {
        var counts = JSONObject()
        for (membership, count) in memberships { counts[membership] = .integer(Int64(count)) }
        return [
            "room_id": .string(roomID), "room_version": .string(roomVersion), "events": .integer(Int64(events)),
            "new_events": .integer(Int64(newEvents)), "memberships": .object(counts),
            "forward_extremities": .array(forwardExtremities.map { .string($0) }),
        ]
    }
}

/// Why an import was refused: the event (by position and ID, where known) and the reason.
public struct ImportError: Error, CustomStringConvertible {
    public let description: String
    /// Whether the refusal says nothing about the events: a signing key could not be had just now
    /// (its server unreachable, timing out, the fetches overloaded), or our own server signed with a
    /// key this worker was not given (yet: a key rotation). The same push may pass later.
    public let isUndecided: Bool

    init(_ description: String) {
        self.description = description
        isUndecided = false
    }

    init(event index: Int, id: String?, _ reason: String, isUndecided: Bool = false) {
        description = "event #\(index)\(id.map { " \($0)" } ?? ""): \(reason)"
        self.isUndecided = isUndecided
    }
}

/// `leave-worker rooms import`: checks a room's history event by event — format, content hash
/// (an event that fails it goes on redacted, as the spec has every server keep it), the
/// signatures of every server that must sign, the auth rules against the event's own auth
/// events and against the state built so far — and stores all of it in one transaction, with the
/// current state, memberships and forward extremities that result. Nothing is stored unless
/// every event passes; importing the same room again changes nothing.
public struct RoomImporter: Sendable {
    /// Rooms can be large: several thousand members are several MB of JSON.
    static let parseLimits = JSONParser.Limits(maxDepth: 64, maxBytes: 1 << 30)

    let rooms: RoomStore
    let signatures: EventSignatureChecker

    /// Imports (or, for a held room, extends) a room from `{"room_version", "events": [...]}`.
    /// A history starting with the `m.room.create` event is checked whole; a batch starting
    /// elsewhere extends a held room: it is checked against the room's stored current state and
    /// the stored events it cites, and events already held are skipped. Only events the room does
    /// not hold are stored. `roomID`, when given, is the room the events must belong to.
    public func importRoom(_ bytes: some Collection<UInt8>, roomID expectedRoomID: String? = nil) async throws -> ImportReport {
        let file: JSONValue
        do {
            file = try JSONParser.parse(bytes, limits: Self.parseLimits)
        } catch {
            throw ImportError("the room file is not valid JSON: \(error)")
        }
        guard let versionID = file["room_version"]?.stringValue else { throw ImportError("room_version (a string) is missing") }
        guard let version = RoomVersion(versionID) else { throw ImportError("unsupported room version \(versionID)") }
        guard let items = file["events"]?.arrayValue, !items.isEmpty else { throw ImportError("events (a non-empty array) is missing") }

        var objects: [JSONObject] = []
        for (index, item) in items.enumerated() {
            guard case .object(let json) = item else { throw ImportError(event: index, id: nil, "not a JSON object") }
            objects.append(json)
        }
        var checked = CheckedRoom(version: version)
        if !(objects[0]["type"]?.stringValue ?? "").bytesEqual(EventType.create) {
            try await checked.seed(fromHeldRoom: rooms, batch: objects, expectedRoomID: expectedRoomID)
        }
        for (index, json) in objects.enumerated() {
            try await checked.append(json, index: index, signatures: signatures)
        }
        if let expectedRoomID, !expectedRoomID.bytesEqual(checked.roomID) {
            throw ImportError("the events belong to room \(checked.roomID), not \(expectedRoomID)")
        }
        let records = checked.records
        let summary = try await rooms.importRoom(
            roomID: checked.roomID, version: version.id, events: records, state: checked.stateRecords)
        var memberships: [String: Int] = [:]
        if checked.held == nil {
            for event in checked.state.values where event.pdu.type.bytesEqual(EventType.member) {
                memberships[event.pdu.membership ?? "", default: 0] += 1
            }
        } else {
            // A held room's batch was checked against part of its state: the room's own counts.
            memberships = try await rooms.membershipCounts(roomID: checked.roomID)
        }
        return ImportReport(
            roomID: checked.roomID, roomVersion: version.id, events: records.count, newEvents: summary.newEvents,
            memberships: memberships, forwardExtremities: checked.forwardExtremities)
    }
}

/// The events of an import checked so far, and the state they produce (for a batch extending a
/// held room: on top of the room's stored state, `RoomImporter+HeldRoom.swift`).
struct CheckedRoom {
    let version: RoomVersion
    var roomID = ""
    /// By event ID, byte for byte (``ExactString``, as `cited`; `state` keys compare bytes too).
    var byID: [ExactString: AuthEvent] = [:]
    var state: [StateKey: AuthEvent] = [:]
    var records: [EventRecord] = []
    var cited: Set<ExactString> = []
    /// Set when the batch extends a held room: the stored events it names, skipped when met again.
    var held: Set<ExactString>?

    init(version: RoomVersion) {
        self.version = version
    }

    mutating func append(_ json: JSONObject, index: Int, signatures: EventSignatureChecker) async throws {
        var pdu: PDU
        do {
            pdu = try PDU(json: json, roomVersion: version)
        } catch {
            throw ImportError(event: index, id: json["event_id"]?.stringValue, "\(error)")
        }
        let bytes: [UInt8]
        let eventID: String
        do {
            bytes = try EventHashing.redactedSigningBytes(of: pdu.json, version: version)
            eventID = try EventHashing.eventID(of: pdu.json, signingBytes: bytes, version: version)
        } catch {
            throw ImportError(event: index, id: nil, "Event is not canonical JSON: \(error)")
        }
        func fail(_ reason: String, isUndecided: Bool = false) -> ImportError {
            ImportError(event: index, id: eventID, reason, isUndecided: isUndecided)
        }
        if held?.contains(ExactString(eventID)) == true { return }   // already stored: idempotent

        let eventRoom = pdu.roomID ?? RoomVersion.roomID(ofCreateEvent: eventID)
        if held != nil && pdu.type.bytesEqual(EventType.create) {
            throw fail("the room is held: an m.room.create event would start another history")
        } else if held == nil && records.isEmpty {
            guard pdu.type.bytesEqual(EventType.create), pdu.stateKey.bytesEqual("") else {
                throw fail("the first event must be the m.room.create event")
            }
            roomID = eventRoom
        } else if !eventRoom.bytesEqual(roomID) {
            throw fail("room_id \(eventRoom) differs from the room's \(roomID)")
        }
        guard byID[ExactString(eventID)] == nil else { throw fail("appears twice") }
        do {
            // A redacted event of the history (or one whose sender hashed it wrongly) goes on
            // redacted, as every server keeps it: same ID, same signatures.
            pdu = try EventHashing.redactedIfContentHashMismatch(pdu)
        } catch {
            throw fail("its redacted form is not a valid event: \(error)")
        }
        do {
            try await signatures.verify(pdu, signingBytes: bytes)
        } catch {
            // For the operator: the details too.
            throw fail("\(error)\(error.logDetail.map { ": \($0)" } ?? "")", isUndecided: error.isUndecided)
        }
        for id in pdu.authEventIDs where byID[ExactString(id)] == nil {
            throw fail("auth event \(id) does not come before it")
        }
        for id in pdu.prevEventIDs where byID[ExactString(id)] == nil {
            throw fail("prev event \(id) does not come before it")
        }
        let authSignatures = await signatures.authSignatures(for: pdu)
        do {
            try AuthRules.check(pdu, authEvents: byID, signatures: authSignatures)
            // Against the current state too — except a held room's events other than memberships:
            // one the homeserver accepted may fairly fail it (its sender left through the fleet
            // after sending it, before the homeserver applied the leave), and refused, it stopped
            // every later push citing it. The homeserver, whose room it is, holds it valid by the
            // state before it, as its auth events show; a membership still meets the current
            // state and the conflict rule (sql/0029), which guard the fleet's leaves.
            if held == nil || pdu.type.bytesEqual(EventType.member) {
                try AuthRules.check(pdu, against: state, signatures: authSignatures)
            }
        } catch {
            throw fail("refused by the auth rules: \(error)")
        }

        let event = AuthEvent(eventID: eventID, pdu: pdu, isRejected: false)
        byID[ExactString(eventID)] = event
        if let key = pdu.stateKeyPair { state[key] = event }
        cited.formUnion(pdu.prevEventIDs.map { ExactString($0) })
        records.append(EventRecord(pdu, eventID: eventID, roomID: roomID, json: pdu.json.removing("unsigned")))
    }

    var stateRecords: [EventRecord] {
        let stateIDs = Set(state.values.map { ExactString($0.eventID) })
        return records.filter { stateIDs.contains(ExactString($0.eventID)) }
    }

    var forwardExtremities: [String] {
        records.map(\.eventID).filter { !cited.contains(ExactString($0)) }
    }
}
