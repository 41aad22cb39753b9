import MatrixCore
import MatrixCrypto
import XCTest

/// The `endpoint` cases of leave-cases.json run through every pure check a send_leave makes, in
/// the recommended order (format, path IDs, leave shape, origin, signatures, content hash, auth
/// rules): each case must stop at the expected check, or be accepted.
final class LeaveEndpointCaseTests: XCTestCase {
    enum Outcome: Equatable {
        case accepted(redactedCopy: Bool)
        case malformed(PDUError)
        case pathMismatch
        case notALeave
        case senderNotOnOrigin
        case signatureMissing(server: String)
        case refused(AuthError)
    }

    func testEndpointCasesStopAtTheExpectedCheck() throws {
        let keys = try vectorServerKeys()
        var checked = 0
        for (room, leaveCase) in try LeaveCase.all() where leaveCase.category == "endpoint" {
            let label = "v\(room.version.id) \(leaveCase.name)"
            let outcome = try sendLeave(leaveCase, room: room, keys: keys)
            XCTAssertEqual(outcome, try expectedOutcome(leaveCase, room: room), label)
            XCTAssertEqual(
                outcome == .accepted(redactedCopy: false) || outcome == .accepted(redactedCopy: true),
                leaveCase.expected["accept"] == true, label)
            checked += 1
        }
        XCTAssertEqual(checked, 15 + 14 + 16 + 16)
    }

    private func sendLeave(_ leaveCase: LeaveCase, room: VectorRoom, keys: [String: [String: Ed25519PublicKey]])
        throws -> Outcome
    {
        let version = room.version
        var pdu: PDU
        do { pdu = try PDU(json: leaveCase.body, roomVersion: version) } catch { return .malformed(error) }
        let pathRoomID = try string(leaveCase.vector["path_room_id"], "path_room_id")
        let pathEventID = try string(leaveCase.vector["path_event_id"], "path_event_id")
        guard pdu.roomID == pathRoomID, try EventHashing.eventID(of: pdu.json, version: version) == pathEventID else {
            return .pathMismatch
        }
        guard pdu.type == EventType.member, pdu.membership == Membership.leave, pdu.stateKey == pdu.sender else {
            return .notALeave
        }
        let origin = try string(leaveCase.vector["origin"], "origin")
        guard UserID(pdu.sender)?.server == origin else { return .senderNotOnOrigin }
        var required = [origin]
        if let eventIDServer = pdu.explicitEventID.flatMap({ EventID($0)?.server }), eventIDServer != origin {
            required.append(eventIDServer)
        }
        let signatures = Ed25519AuthSignatures(serverKeys: keys)
        for server in required where !signatures.isEvent(pdu, signedBy: server) {
            return .signatureMissing(server: server)
        }
        let redactedCopy = !EventHashing.hasValidContentHash(pdu.json, version: version)
        if redactedCopy {
            pdu = try PDU(json: Redaction.redact(pdu.json, version: version), roomVersion: version)
            XCTAssertEqual(try EventHashing.eventID(of: pdu.json, version: version), pathEventID)
        }
        do {
            try AuthRules.check(pdu, authEvents: try room.authEvents(), signatures: signatures)
            try AuthRules.check(pdu, against: try room.currentState(), signatures: signatures)
        } catch let error as AuthError {
            return .refused(error)
        }
        return .accepted(redactedCopy: redactedCopy)
    }

    private func expectedOutcome(_ leaveCase: LeaveCase, room: VectorRoom) throws -> Outcome {
        switch leaveCase.name {
        case "room_id_differs_from_path", "event_id_differs_from_path":
            return .pathMismatch
        case "not_a_member_event", "membership_is_join", "state_key_not_sender":
            return .notALeave
        case "membership_changed_after_signing":
            // The membership is covered by the reference hash: from v3 the computed ID no longer
            // matches the path; v1's explicit ID still does, so the leave-shape check catches it.
            return room.version.eventIDFormat == .explicit ? .notALeave : .pathMismatch
        case "sender_not_on_origin":
            return .senderNotOnOrigin
        case "bad_signature", "not_signed_by_sender_server":
            return .signatureMissing(server: "remote.test")
        case "v1v2_event_id_domain_not_signed":
            return .signatureMissing(server: "resident.test")
        case "content_hash_mismatch":
            return .accepted(redactedCopy: true)
        case "valid_with_origin_and_unknown_top_level_key":
            return .accepted(redactedCopy: false)
        case "depth_is_a_string":
            return .malformed(.wrongType(member: "depth", expected: "an integer"))
        case "float_in_content":
            return .malformed(.nonIntegerNumber("1.5"))
        case "integer_out_of_range_in_content":
            return .malformed(.integerOutOfRange("9007199254740992"))
        case "v12_create_event_in_auth_events":
            return .malformed(.createEventInAuthEvents(RoomVersion.createEventID(ofRoom: room.roomID)))
        case "join_rules_cited_in_leave_auth_events":
            return .refused(.unexpectedAuthEvent(eventID: try XCTUnwrap(room.finalState[.joinRules])))
        case "create_event_missing_from_auth_events":
            return .refused(.missingCreateEvent)
        default:
            throw VectorShapeError(description: "unknown endpoint case \(leaveCase.name)")
        }
    }
}
