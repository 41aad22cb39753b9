import MatrixCore
import MatrixCrypto
import Storage

extension LeaveService {
    /// `GET /_matrix/federation/v1/make_leave/{roomId}/{userId}`: a leave template built on the
    /// room's current state, after the same checks Synapse makes, in its order — server ACL, user
    /// on the origin server, room known, auth rules (the user's membership must allow a leave).
    public func makeLeave(roomID: String, userID: String, origin: String) async throws(MatrixError) -> JSONObject {
        let version: RoomVersion
        do throws(MatrixError) {
            version = try await roomVersion(roomID)
        } catch {
            // Synapse checks the user's server before it learns the room is unknown.
            guard Self.isUser(userID, on: origin) else { throw .forbidden("User \(userID) is not from \(origin)") }
            throw error
        }
        let context = try await storage {
            try await rooms.templateContext(
                roomID: roomID, stateKeys: RoomState.keys(for: userID).map { ($0.type, $0.stateKey) },
                extremityLimit: Self.maxPrevEvents)
        }
        let state = try RoomState(version: version, records: context.state, parsed: parsedEvents)
        guard state.aclAllows(origin) else { throw .forbidden("Server \(origin) is banned from this room by its server ACL") }
        guard Self.isUser(userID, on: origin) else { throw .forbidden("User \(userID) is not from \(origin)") }

        let extremities = context.extremities
        var template: JSONObject = [
            "type": .string(EventType.member),
            "state_key": .string(userID),
            "sender": .string(userID),
            "content": ["membership": .string(Membership.leave)],
            "room_id": .string(roomID),
            "origin_server_ts": .integer(now()),
            // One deeper than the deepest extremity, capped at the version's maximum (2^63 − 1 in v1–v5,
            // where a member may already have sent that depth): never an overflow.
            "depth": .integer(min((extremities.map(\.depth).max() ?? 0).saturatingAdd(1), version.maxDepth)),
        ]
        let authKeys = AuthRules.authEventSelection(
            for: EventType.member, sender: userID, stateKey: userID, content: ["membership": .string(Membership.leave)], version: version)
        let authEvents = authKeys.compactMap { state.records[$0] }
        template["prev_events"] = try references(extremities, version: version)
        template["auth_events"] = try references(authEvents, version: version)
        if version.eventIDFormat == .explicit {
            template["event_id"] = .string("$\(UInt64.random(in: 1...UInt64.max)):\(serverName)")
        }
        try checkTemplateIsAllowed(template, state: state)
        return ["room_version": .string(version.id), "event": .object(template)]
    }

    /// Whether `userID` is a user of `server` (its domain equals the server name byte for byte).
    static func isUser(_ userID: String, on server: String) -> Bool {
        UserID(userID, historical: true)?.server.bytesEqual(server) == true
    }

    /// The leave the template describes must pass the auth rules against the current state;
    /// refused (not in the room, banned, already left) → 403.
    private func checkTemplateIsAllowed(_ template: JSONObject, state: RoomState) throws(MatrixError) {
        var candidate = template
        candidate["hashes"] = ["sha256": ""]
        do {
            let pdu = try PDU(json: candidate, roomVersion: state.version)
            try AuthRules.check(pdu, against: state.events, signatures: AuthSignatures.none)
        } catch let error as AuthError {
            throw .forbidden("You cannot leave this room: \(error)")
        } catch {
            throw .badJSON("Cannot build a leave event for this user: \(error)")
        }
    }

    /// `prev_events`/`auth_events` entries in the version's format: IDs, or for v1–v2
    /// `[id, {"sha256": reference hash}]` pairs computed from the stored events.
    private func references(_ records: [EventRecord], version: RoomVersion) throws(MatrixError) -> JSONValue {
        guard version.referenceFormat == .pairs else { return .array(records.map { .string($0.eventID) }) }
        var pairs: [JSONValue] = []
        for record in records {
            let event = try parsedEvents.event(record, version: version)
            guard let hash = try? EventHashing.referenceHash(of: event.pdu.json, version: version) else { continue }
            pairs.append([.string(record.eventID), ["sha256": .string(Base64.encodeUnpadded(hash))]])
        }
        return .array(pairs)
    }
}
