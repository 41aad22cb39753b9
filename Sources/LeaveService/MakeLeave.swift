import LeaveDecision
import MatrixCore
import Storage

extension LeaveService {
    /// `GET /_matrix/federation/v1/make_leave/{roomId}/{userId}`: a leave template built on the
    /// room's current state (``LeaveTemplate``), after the same checks Synapse makes, in its
    /// order — server ACL, user on the origin server, room known, auth rules.
    public func makeLeave(roomID: String, userID: String, origin: String) async throws(LeaveServiceError) -> JSONObject {
        let version: RoomVersion
        do throws(LeaveServiceError) {
            version = try await roomVersion(roomID)
        } catch {
            // Synapse checks the user's server before it learns the room is unknown.
            guard RoomState.isUser(userID, on: origin) else { throw .refused(.userNotOnOrigin(user: userID, origin: origin)) }
            throw error
        }
        let context = try await storage { () async throws(StorageError) in
            try await rooms.templateContext(
                roomID: roomID, stateKeys: RoomState.keys(for: userID).map { ($0.type, $0.stateKey) },
                extremityLimit: LeaveTemplate.maxPrevEvents)
        }
        let needsEvents = version.referenceFormat == .pairs
        let extremities = try context.extremities.map { record throws(LeaveServiceError) in
            LeaveTemplate.Extremity(
                eventID: record.eventID, depth: record.depth,
                event: needsEvents ? try parsed([record], version: version).first?.pdu : nil)
        }
        let template = LeaveTemplate(
            roomID: roomID, userID: userID, origin: origin,
            state: RoomState(version: version, events: try parsed(context.state, version: version)), extremities: extremities)
        do {
            return try template.build(now: now(), serverName: serverName, eventIDNumber: UInt64.random(in: 1...UInt64.max))
        } catch {
            throw .refused(error)
        }
    }
}
