import MatrixCore
import MatrixCrypto
import Storage

extension LeaveService {
    /// `PUT /_matrix/federation/{v1,v2}/send_leave/{roomId}/{eventId}`: validates the signed leave
    /// completely — cheap shape checks first, then signatures, hash, auth events and auth rules —
    /// and only then adds our signature and stores event, membership, state and extremities in one
    /// transaction (the federation sender then forwards the event). Every refusal writes nothing.
    ///
    /// State before the event: this worker changes room state only by self-leaves, and a
    /// self-leave's authorization reads only the create event and the sender's own membership, so
    /// the rules are evaluated against the room's *current* state (inside the transaction the
    /// sender's membership is re-checked under the room lock). Where the sender's membership
    /// changed since the leave was made (another leave won), the leave is refused with 403 —
    /// Synapse would store it soft-failed; the contract asks for 403.
    public func sendLeave(roomID: String, eventID: String, origin: String, pdu json: JSONObject) async throws(MatrixError) {
        let version = try await roomVersion(roomID)
        let event = try Self.parseLeave(json, roomID: roomID, version: version)
        let bytes = try Self.signingBytes(event)
        let computedID = try Self.eventID(of: event, signingBytes: bytes)
        guard computedID.bytesEqual(eventID) else {
            throw .badJSON("Event ID \(computedID) does not match the path's \(eventID)")
        }
        // The same bytes from here on; the computed ID is the one that names the event.
        let eventID = computedID
        try Self.checkLeaveShape(event)
        guard Self.isUser(event.sender, on: origin) else {
            throw .forbidden("Sender \(event.sender) is not on the requesting server \(origin)")
        }

        let stateKeys = RoomState.keys(for: event.sender)
        let context = try await storage {
            try await rooms.leaveContext(
                roomID: roomID, eventID: eventID, stateKeys: stateKeys.map { ($0.type, $0.stateKey) },
                citedEventIDs: event.authEventIDs + event.prevEventIDs)
        }
        let state = try RoomState(version: version, records: context.state, parsed: parsedEvents)
        guard state.aclAllows(origin) else { throw .forbidden("Server \(origin) is banned from this room by its server ACL") }

        do {
            try await signatures.verify(event, signingBytes: bytes)
        } catch {
            // Keys that could not be fetched decide nothing: 503, as for the request's own key.
            let refusal = error.isUndecided
                ? MatrixError.unavailable("Could not check the event's signatures: \(error)", retryAfterMilliseconds: 5000)
                : MatrixError.forbidden("Bad signature: \(error)")
            throw error.logDetail.map(refusal.withLogDetail) ?? refusal
        }
        let accepted = try Self.redactedIfHashMismatch(event)

        try checkAuthEvents(accepted, context: context, version: version)
        if context.alreadyStored { return }  // a replay: same checks passed, nothing to write
        let known = Set(context.cited.map { ExactString($0.eventID) })
        if let unknown = event.prevEventIDs.first(where: { !known.contains(ExactString($0)) }) {
            throw .forbidden("prev_event \(unknown) is not an event of this room")
        }
        let expected = state.membership(of: event.sender)
        do {
            try AuthRules.check(accepted, against: state.events, signatures: AuthSignatures.none)
        } catch {
            throw .forbidden("Leave refused by the room's current state: \(error)")
        }

        // The redacted copy has the same redacted form, so the same signing bytes.
        let record = try signedRecord(accepted, eventID: eventID, signingBytes: bytes)
        let outcome = try await storage {
            try await rooms.storeLeave(record, expectedMembership: expected ?? "")
        }
        switch outcome {
        case .stored, .alreadyStored: return
        case .membershipChanged(let current):
            throw .forbidden("Membership of \(event.sender) changed to \(current ?? "none") meanwhile; leave refused")
        }
    }

    /// Format checks for the room version: 400 `M_BAD_JSON` (413 for size), `room_id` as in the path.
    static func parseLeave(_ json: JSONObject, roomID: String, version: RoomVersion) throws(MatrixError) -> PDU {
        guard let bodyRoom = json["room_id"]?.stringValue, bodyRoom.bytesEqual(roomID) else {
            throw .badJSON("room_id of the event does not match the path")
        }
        do {
            return try PDU(json: json, roomVersion: version)
        } catch {
            if error.isSizeViolation { throw .tooLarge("\(error)") }
            throw .badJSON("\(error)")
        }
    }

    /// A self-leave: `m.room.member`, a state event, `membership: leave`, `state_key == sender`.
    static func checkLeaveShape(_ event: PDU) throws(MatrixError) {
        guard event.type.bytesEqual(EventType.member), let stateKey = event.stateKey else {
            throw .badJSON("Not an m.room.member state event")
        }
        guard event.membership.bytesEqual(Membership.leave) else { throw .badJSON("Not a leave event") }
        guard stateKey.bytesEqual(event.sender) else { throw .badJSON("state_key and sender must match") }
    }

    /// The canonical bytes of the redacted event: what signatures cover and the reference hash hashes.
    static func signingBytes(_ event: PDU) throws(MatrixError) -> [UInt8] {
        do {
            return try EventHashing.redactedSigningBytes(of: event.json, version: event.roomVersion)
        } catch {
            throw .badJSON("Event is not canonical JSON: \(error)")
        }
    }

    /// v1–v2: the `event_id` member; v3+: `$` + base64 of SHA-256 of the signing bytes.
    static func eventID(of event: PDU, signingBytes: [UInt8]) throws(MatrixError) -> String {
        switch event.roomVersion.eventIDFormat {
        case .explicit:
            guard let id = event.explicitEventID else { throw .badJSON("event_id missing") }
            return id
        case .base64: return "$" + Base64.encodeUnpadded(SHA256.hash(signingBytes))
        case .urlSafeBase64: return "$" + Base64.encodeUnpaddedURLSafe(SHA256.hash(signingBytes))
        }
    }

    /// The spec's rule for a content-hash mismatch: continue with our redacted copy.
    static func redactedIfHashMismatch(_ event: PDU) throws(MatrixError) -> PDU {
        if EventHashing.hasValidContentHash(event.json, version: event.roomVersion) { return event }
        do {
            return try PDU(json: Redaction.redact(event.json, version: event.roomVersion), roomVersion: event.roomVersion)
        } catch {
            throw .badJSON("Redacted copy of the event is malformed: \(error)")
        }
    }

    /// The cited auth events must be events of this room, of the kinds a leave may cite, and allow it.
    /// (The rows were selected by Postgres `=` on text, which is byte equality under the database's
    /// deterministic collation; the IDs are matched here byte for byte again.)
    private func checkAuthEvents(_ event: PDU, context: LeaveContext, version: RoomVersion) throws(MatrixError) {
        var authEvents: [ExactString: AuthEvent] = [:]
        for id in event.authEventIDs {
            guard let record = context.cited.first(where: { $0.eventID.bytesEqual(id) }) else {
                throw .forbidden("Auth event \(id) is not an event of this room")
            }
            authEvents[ExactString(id)] = try parsedEvents.event(record, version: version)
        }
        if version.roomIDFromCreateEvent,
            let create = context.state.first(where: { $0.type.bytesEqual(EventType.create) })
        {
            authEvents[ExactString(create.eventID)] = try parsedEvents.event(create, version: version)
        }
        do {
            try AuthRules.check(event, authEvents: authEvents, signatures: AuthSignatures.none)
        } catch {
            throw .forbidden("Leave refused by its auth events: \(error)")
        }
    }

    /// The event as we store and serve it: without `unsigned`, with our signature added.
    private func signedRecord(_ event: PDU, eventID: String, signingBytes: [UInt8]) throws(MatrixError) -> EventRecord {
        guard let key = signingKey else { throw .unavailable("This worker has no signing key") }
        var json = event.json.removing("unsigned")
        var signatures = json["signatures"]?.objectValue ?? JSONObject()
        var ours = signatures[serverName]?.objectValue ?? JSONObject()
        ours[key.keyID] = .string(Base64.encodeUnpadded(key.privateKey.signature(for: signingBytes)))
        signatures[serverName] = .object(ours)
        json["signatures"] = .object(signatures)
        return EventRecord(
            eventID: eventID, roomID: event.roomID ?? "", type: event.type, stateKey: event.stateKey, sender: event.sender,
            depth: event.depth, originServerTS: event.originServerTS, membership: event.membership,
            prevEvents: event.prevEventIDs, authEvents: event.authEventIDs, pdu: json.compactBytes())
    }
}
