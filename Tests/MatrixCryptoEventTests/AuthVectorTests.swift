import MatrixCore
import MatrixCrypto
import TestSupport
import XCTest

/// Synapse's auth verdicts in events.json, reproduced for every event of every room version:
/// against the event's own auth events and against the state before it.
final class AuthVectorTests: XCTestCase {
    func testSynapseVerdictsAgainstAuthEventsAndStateBefore() throws {
        let signatures = KeyedAuthSignatures(vectorKeys: try vectorServerKeys())
        var checked = 0
        for room in try VectorRoom.all() {
            var known: [ExactString: AuthEvent] = [:]
            var state: [StateKey: AuthEvent] = [:]
            for event in room.events {
                let label = "v\(room.version.id) \(event.name)"
                let pdu = try PDU(json: event.pdu, roomVersion: room.version)
                let verdicts = try object(event.vector["synapse_auth"], label)
                let againstAuthEvents = Result { () throws(AuthError) in
                    try AuthRules.check(pdu, authEvents: known, signatures: signatures)
                }
                let againstState = Result { () throws(AuthError) in
                    try AuthRules.check(pdu, against: state, signatures: signatures)
                }
                XCTAssertEqual(
                    isAllowed(againstAuthEvents), try string(verdicts["against_auth_events"], label) == "allowed",
                    "\(label): \(againstAuthEvents)")
                XCTAssertEqual(
                    isAllowed(againstState), try string(verdicts["against_state_before"], label) == "allowed",
                    "\(label): \(againstState)")
                let accepted = AuthEvent(eventID: event.eventID, pdu: pdu)
                known[ExactString(event.eventID)] = accepted
                if let key = pdu.stateKeyPair { state[key] = accepted }
                checked += 1
            }
            XCTAssertEqual(state.mapValues(\.eventID), room.finalState, "v\(room.version.id) final state")
        }
        XCTAssertEqual(checked, 132)
    }

    /// Every `auth_rules` case of leave-cases.json: the leave against its auth events and against
    /// the room's current state, with Synapse's verdict for each.
    func testLeaveCasesOfCategoryAuthRules() throws {
        let signatures = KeyedAuthSignatures(vectorKeys: try vectorServerKeys())
        var checked = 0
        for (room, leaveCase) in try LeaveCase.all() where leaveCase.category == "auth_rules" {
            let label = "v\(room.version.id) \(leaveCase.name)"
            let pdu = try PDU(json: leaveCase.body, roomVersion: room.version)
            XCTAssertEqual(try EventHashing.eventID(of: leaveCase.body, version: room.version), leaveCase.eventID)
            XCTAssertTrue(EventHashing.hasValidContentHash(leaveCase.body, version: room.version), label)
            let known = try room.authEvents()
            let current = try room.currentState()
            let againstAuthEvents = Result { () throws(AuthError) in
                try AuthRules.check(pdu, authEvents: known, signatures: signatures)
            }
            let againstState = Result { () throws(AuthError) in
                try AuthRules.check(pdu, against: current, signatures: signatures)
            }
            let expected = leaveCase.expected
            XCTAssertEqual(
                isAllowed(againstAuthEvents),
                try string(expected["synapse_auth_against_auth_events"], label) == "allowed", label)
            XCTAssertEqual(
                isAllowed(againstState),
                try string(expected["synapse_auth_against_current_state"], label) == "allowed", label)
            XCTAssertEqual(isAllowed(againstAuthEvents) && isAllowed(againstState), expected["accept"] == true, label)
            if !isAllowed(againstState) {
                let current = leaveCase.vector["current_membership_of_sender"]?.stringValue
                XCTAssertEqual(againstState.error, .cannotLeave(currentMembership: current), label)
            }
            checked += 1
        }
        XCTAssertEqual(checked, 4 * 6 + 5 * 6)
    }

    private func isAllowed(_ result: Result<Void, AuthError>) -> Bool {
        if case .success = result { return true }
        return false
    }
}

extension Result {
    /// The failure, if any.
    var error: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}

/// One send_leave case of leave-cases.json, with the room it runs against.
struct LeaveCase {
    let name: String
    let category: String
    let vector: JSONObject
    let body: JSONObject
    let eventID: String
    let expected: JSONObject

    static func all() throws -> [(VectorRoom, LeaveCase)] {
        let rooms = try VectorRoom.all()
        let file = try object(JSONParser.parse(try Vectors.bytes("leave-cases")), "leave-cases.json")
        var cases: [(VectorRoom, LeaveCase)] = []
        for version in try object(file["versions"], "versions").members {
            let room = try XCTUnwrap(rooms.first { $0.version.id == version.key })
            for value in try object(version.value, version.key)["cases"]?.arrayValue ?? [] {
                let vector = try object(value, "case")
                let name = try string(vector["name"], "name")
                cases.append((room, LeaveCase(
                    name: name, category: try string(vector["category"], name), vector: vector,
                    body: try object(vector["body"], name), eventID: try string(vector["event_id"], name),
                    expected: try object(vector["expected"], name))))
            }
        }
        return cases
    }
}
