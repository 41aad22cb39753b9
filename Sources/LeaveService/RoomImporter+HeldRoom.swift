import MatrixCore
import MatrixCrypto
import Storage

extension CheckedRoom {
    /// Prepares the check of a batch that extends a held room: the room's stored current state is
    /// the state before the batch — the entries the batch's auth checks read (the create event and
    /// each event's auth selection), not the whole of it: a push to a room of 10,000 members read
    /// and parsed 10,000 member events, for every message — and the stored events the batch cites
    /// (or repeats) are known by ID. Stored events are trusted as they are: they passed these
    /// checks when they were stored.
    mutating func seed(fromHeldRoom rooms: RoomStore, batch: [JSONObject], expectedRoomID: String?) async throws {
        guard let roomID = expectedRoomID ?? batch[0]["room_id"]?.stringValue else {
            throw ImportError(event: 0, id: batch[0]["event_id"]?.stringValue,
                              "the first event is not the m.room.create event and names no room")
        }
        guard let heldVersion = try await rooms.roomVersion(roomID) else {
            throw ImportError("room \(roomID) is not held: a history must start with its m.room.create event")
        }
        guard heldVersion.bytesEqual(version.id) else {
            throw ImportError("room \(roomID) is held with room version \(heldVersion), not \(version.id)")
        }
        // The IDs the batch names: its own events (a repeated push) and those they cite — and,
        // from v12, the create event, which no event cites but every event's room ID names.
        var named: [String] = version.roomIDFromCreateEvent ? [RoomVersion.createEventID(ofRoom: roomID)] : []
        var stateKeys: Set<StateKey> = [.create]
        for json in batch {
            guard let pdu = try? PDU(json: json, roomVersion: version) else { continue }   // refused by append
            named += pdu.prevEventIDs + pdu.authEventIDs
            stateKeys.formUnion(AuthRules.authEventSelection(for: pdu))
            if let bytes = try? EventHashing.redactedSigningBytes(of: pdu.json, version: version),
               let id = try? EventHashing.eventID(of: pdu.json, signingBytes: bytes, version: version) {
                named.append(id)
            }
        }
        self.roomID = roomID
        var heldIDs = Set<ExactString>()
        for record in try await rooms.events(roomID: roomID, ids: named) {
            let event = try Self.storedEvent(record, version: version)
            byID[ExactString(record.eventID)] = event
            heldIDs.insert(ExactString(record.eventID))
        }
        for record in try await rooms.currentStateEvents(roomID: roomID, keys: stateKeys.map { ($0.type, $0.stateKey) }) {
            let event = try Self.storedEvent(record, version: version)
            if let key = event.pdu.stateKeyPair { state[key] = event }
        }
        held = heldIDs
    }

    private static func storedEvent(_ record: EventRecord, version: RoomVersion) throws -> AuthEvent {
        guard case .object(let json)? = try? JSONParser.parse(record.pdu, limits: RoomImporter.parseLimits),
              let pdu = try? PDU(json: json, roomVersion: version) else {
            throw ImportError("the stored event \(record.eventID) cannot be read back")
        }
        return AuthEvent(eventID: record.eventID, pdu: pdu, isRejected: false)
    }
}
