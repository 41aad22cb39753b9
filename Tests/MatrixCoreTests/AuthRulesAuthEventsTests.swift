import MatrixCore
import XCTest

/// The rules on an event's `auth_events` list, the create event they rest on (v12: implied by
/// the room ID), and `m.federate`.
final class AuthRulesAuthEventsTests: XCTestCase {
    private let signatures = NoSignatureVerifies()

    private func leave(_ room: inout TestRoom, citing authEvents: [String]) throws -> PDU {
        try room.event(
            type: EventType.member, sender: User.mod, stateKey: User.mod, content: ["membership": "leave"],
            authEvents: authEvents
        ).pdu
    }

    private func id(_ room: TestRoom, _ key: StateKey) throws -> String { try XCTUnwrap(room.state[key]).eventID }

    func testEveryCitedEventMustBeKnown() throws {
        var room = try TestRoom.standard(version: "10")
        let unknown = TestRoom.eventID(number: 999, version: room.version)
        let pdu = try leave(&room, citing: [try id(room, .create), unknown])
        XCTAssertAuthError(.missingAuthEvent(unknown), try AuthRules.check(pdu, authEvents: room.events, signatures: signatures))
    }

    func testDuplicateTypeAndStateKeyIsRefused() throws {
        var room = try TestRoom.standard(version: "10")
        let firstLevels = try id(room, .powerLevels)
        try room.send(EventType.powerLevels, from: User.alice, stateKey: "", content: TestRoom.powerLevels(room.version))
        let pdu = try leave(&room, citing: [try id(room, .create), firstLevels, try id(room, .powerLevels)])
        XCTAssertAuthError(
            .duplicateAuthEvent(.powerLevels), try AuthRules.check(pdu, authEvents: room.events, signatures: signatures))
    }

    func testEntriesOutsideTheSelectionAreRefused() throws {
        for version in ["1", "10", "12"] {
            var room = try TestRoom.standard(version: version)
            try room.member(User.bob, Membership.join)
            let cited = [try id(room, .joinRules), try id(room, .member(User.bob)), try id(room, .member(User.mod))]
            for extra in cited {
                var ids = [try id(room, .powerLevels), try id(room, .member(User.mod))].filter { $0 != extra }
                if room.version.createEventInAuthEvents { ids.insert(try id(room, .create), at: 0) }
                let pdu = try leave(&room, citing: ids + [extra])
                let expected: AuthError? = extra == (try id(room, .member(User.mod))) ? nil : .unexpectedAuthEvent(eventID: extra)
                XCTAssertEqual(
                    refusal { () throws(AuthError) in try AuthRules.check(pdu, authEvents: room.events, signatures: signatures) },
                    expected, "v\(version)")
            }
            let message = try room.event(type: "m.room.message", sender: User.mod, stateKey: nil, content: [:])
            room.accept(message)
            let citingMessage = try leave(&room, citing: [try id(room, .member(User.mod)), message.eventID])
            XCTAssertAuthError(
                .unexpectedAuthEvent(eventID: message.eventID),
                try AuthRules.check(citingMessage, authEvents: room.events, signatures: signatures))
        }
    }

    func testRejectedAuthEventsAreRefused() throws {
        var room = try TestRoom.standard(version: "10")
        let pdu = try leave(&room, citing: [try id(room, .create), try id(room, .member(User.mod))])
        var known = room.events
        let member = try XCTUnwrap(room.state[.member(User.mod)])
        known[ExactString(member.eventID)] = AuthEvent(eventID: member.eventID, pdu: member.pdu, isRejected: true)
        XCTAssertAuthError(.rejectedAuthEvent(member.eventID), try AuthRules.check(pdu, authEvents: known, signatures: signatures))
    }

    func testCreateEventMustBeCitedBeforeV12() throws {
        for version in 1...11 {
            var room = try TestRoom.standard(version: String(version))
            let pdu = try leave(&room, citing: [try id(room, .powerLevels), try id(room, .member(User.mod))])
            XCTAssertAuthError(.missingCreateEvent, try AuthRules.check(pdu, authEvents: room.events, signatures: signatures))
            var withoutCreate = room.state
            withoutCreate[.create] = nil
            XCTAssertAuthError(.missingCreateEvent, try AuthRules.check(pdu, against: withoutCreate, signatures: signatures))
        }
    }

    func testAuthEventsMustBeInTheSameRoom() throws {
        var room = try TestRoom.standard(version: "10")
        let member = try XCTUnwrap(room.state[.member(User.mod)])
        var json = member.pdu.json
        json["room_id"] = "!elsewhere:a.test"
        let strangerID = TestRoom.eventID(number: 500, version: room.version)
        var known = room.events
        known[ExactString(strangerID)] = AuthEvent(eventID: strangerID, pdu: try PDU(json: json, roomVersion: room.version))
        let pdu = try leave(&room, citing: [try id(room, .create), strangerID])
        XCTAssertAuthError(.authEventInOtherRoom(strangerID), try AuthRules.check(pdu, authEvents: known, signatures: signatures))
    }

    func testV12RoomIDMustNameAnAcceptedCreateEvent() throws {
        var room = try TestRoom.standard(version: "12")
        let pdu = try leave(&room, citing: [try id(room, .powerLevels), try id(room, .member(User.mod))])
        XCTAssertNoThrow(try room.check(AuthEvent(eventID: "unused", pdu: pdu)))
        let create = try XCTUnwrap(room.state[.create])
        var known = room.events
        known[ExactString(create.eventID)] = nil
        XCTAssertAuthError(
            .roomIDNotFromCreateEvent(room.roomID), try AuthRules.check(pdu, authEvents: known, signatures: signatures))
        known[ExactString(create.eventID)] = AuthEvent(eventID: create.eventID, pdu: create.pdu, isRejected: true)
        XCTAssertAuthError(
            .roomIDNotFromCreateEvent(room.roomID), try AuthRules.check(pdu, authEvents: known, signatures: signatures))
        var state = room.state
        let otherCreateID = TestRoom.eventID(number: 900, version: room.version)
        state[.create] = AuthEvent(eventID: otherCreateID, pdu: create.pdu)
        XCTAssertAuthError(.roomIDNotFromCreateEvent(room.roomID), try AuthRules.check(pdu, against: state, signatures: signatures))
        state[.create] = nil
        XCTAssertAuthError(.roomIDNotFromCreateEvent(room.roomID), try AuthRules.check(pdu, against: state, signatures: signatures))
    }

    func testUnfederatedRoomsRefuseOtherServers() throws {
        for version in ["1", "10", "12"] {
            var room = try TestRoom(version: version, createContent: ["m.federate": false])
            try room.member(User.alice, Membership.join)
            try room.send(EventType.joinRules, from: User.alice, stateKey: "", content: ["join_rule": "public"])
            XCTAssertAuthError(.roomNotFederated, try room.member(User.bob, Membership.join), "v\(version)")
            XCTAssertNoThrow(try room.member(User.mod, Membership.join), "v\(version)")
        }
        // As Synapse: federated only when the key is absent or the boolean true.
        for value: JSONValue in ["false", 0, .null, "true"] {
            var room = try TestRoom(version: "10", createContent: ["m.federate": value])
            try room.member(User.alice, Membership.join)
            try room.send(EventType.joinRules, from: User.alice, stateKey: "", content: ["join_rule": "public"])
            XCTAssertAuthError(.roomNotFederated, try room.member(User.bob, Membership.join), "m.federate \(value)")
        }
        for createContent: JSONObject in [["m.federate": true], [:]] {
            var federated = try TestRoom(version: "10", createContent: createContent)
            try federated.member(User.alice, Membership.join)
            try federated.send(EventType.joinRules, from: User.alice, stateKey: "", content: ["join_rule": "public"])
            XCTAssertNoThrow(try federated.member(User.bob, Membership.join), "\(createContent)")
        }
    }
}
