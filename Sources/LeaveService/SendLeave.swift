import LeaveDecision
import MatrixCore
import Storage

extension LeaveService {
    /// `PUT /_matrix/federation/{v1,v2}/send_leave/{roomId}/{eventId}`: read what the decision
    /// needs, fetch the keys it names, decide (``LeaveDecision``), and write event, membership,
    /// state and extremities in one transaction (the federation sender then forwards the event
    /// from its place in the stream). Every refusal writes nothing.
    /// Where the sender's membership changed since the decision (another leave won), the leave is
    /// refused — Synapse would store it soft-failed; the contract asks for 403.
    public func sendLeave(roomID: String, eventID: String, origin: String, pdu json: JSONObject) async throws(LeaveServiceError) {
        let version = try await roomVersion(roomID)
        let candidate: LeaveCandidate
        do {
            candidate = try LeaveCandidate.parse(json, roomID: roomID, eventID: eventID, origin: origin, version: version)
        } catch {
            throw .refused(error)
        }
        let event = candidate.event
        let context = try await storage { () async throws(StorageError) in
            try await rooms.leaveContext(
                roomID: roomID, eventID: candidate.eventID,
                stateKeys: RoomState.keys(for: event.sender).map { ($0.type, $0.stateKey) },
                authEventIDs: event.authEventIDs, prevEventIDs: event.prevEventIDs)
        }
        // The sender's membership event is read for this leave only (the leave replaces it): not kept.
        let state = try parsed(context.state, version: version) { stored in
            !(stored.pdu.type.bytesEqual(EventType.member) && stored.pdu.stateKey.bytesEqual(event.sender))
        }
        // Auth events are mostly state entries just parsed (create, power levels, the membership).
        let authIDs = Set(event.authEventIDs.map { ExactString($0) })
        var authEvents: [AuthEvent] = []
        for record in context.cited where authIDs.contains(ExactString(record.eventID)) {
            if let known = state.first(where: { $0.eventID.bytesEqual(record.eventID) }) {
                authEvents.append(known)
            } else {
                authEvents += try parsed([record], version: version)
            }
        }
        var positions: [ExactString: Int64] = [:]
        for record in context.cited { positions[ExactString(record.eventID)] = record.streamPosition }
        let snapshot = LeaveSnapshot(
            version: version, state: state, authEvents: authEvents, streamPositions: positions, alreadyStored: context.alreadyStored)
        let needed: [(server: String, signatures: JSONObject)]
        do { needed = try decision.keysNeeded(candidate, snapshot: snapshot) } catch { throw .refused(error) }
        let keys = await signatures.keys(for: needed, use: candidate.keyUse)

        switch decision.decide(candidate, snapshot: snapshot, keys: keys) {
        case .refused(let refusal): throw .refused(refusal)
        case .alreadyStored: return
        case .store(let leave, let expected):
            let record = EventRecord(leave.event, eventID: leave.eventID, roomID: roomID, json: leave.json)
            let outcome = try await storage { () async throws(StorageError) in
                try await rooms.storeLeave(record, expectedMembership: expected.value, expectedMembershipEvent: expected.eventID)
            }
            switch outcome {
            case .stored, .alreadyStored: return
            case .membershipChanged(let current): throw .refused(.membershipChanged(sender: event.sender, current: current))
            }
        }
    }
}

extension EventRecord {
    /// The record of an accepted event: its columns from the PDU, `json` (the event as stored
    /// and served) as its bytes.
    init(_ event: PDU, eventID: String, roomID: String, json: JSONObject) {
        self.init(
            eventID: eventID, roomID: roomID, type: event.type, stateKey: event.stateKey, sender: event.sender,
            depth: event.depth, originServerTS: event.originServerTS, membership: event.membership,
            prevEvents: event.prevEventIDs, authEvents: event.authEventIDs, pdu: json.compactBytes())
    }
}
