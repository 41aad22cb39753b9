import MatrixCore
import XCTest

/// Rule 1: `m.room.create`.
final class AuthRulesCreateTests: XCTestCase {
    private func createEvent(_ version: String, content: JSONObject, extra: JSONObject = [:], prev: [String] = [])
        throws -> PDU
    {
        var room = try TestRoom(version: version)
        return try room.event(
            type: EventType.create, sender: User.alice, stateKey: "", content: content, authEvents: [],
            prevEvents: prev, extra: extra
        ).pdu
    }

    private func check(_ pdu: PDU) throws {
        try AuthRules.check(pdu, authEvents: [:], signatures: NoSignatureVerifies())
        try AuthRules.check(pdu, against: [:], signatures: NoSignatureVerifies())
    }

    func testCreateEventsOfEveryVersionAreAllowed() throws {
        for version in 1...12 {
            let id = String(version)
            XCTAssertNoThrow(try TestRoom(version: id), "v\(id)")
        }
    }

    func testPrevEventsAreRefused() throws {
        let v10 = try createEvent("10", content: ["creator": .string(User.alice)], prev: [TestRoom.eventID(number: 7, version: try XCTUnwrap(RoomVersion("10")))])
        XCTAssertAuthError(.createHasPrevEvents, try check(v10))
    }

    func testRoomDomainMustBeTheSendersBeforeV12AndAbsentInV12() throws {
        let foreign = try createEvent("10", content: ["creator": .string(User.alice)], extra: [:])
        var json = foreign.json
        json["room_id"] = "!room:other.test"
        XCTAssertAuthError(.createRoomDomainMismatch, try check(try PDU(json: json, roomVersion: foreign.roomVersion)))
        let v12 = try createEvent("12", content: [:], extra: ["room_id": "!room:a.test"])
        XCTAssertAuthError(.createHasRoomID, try check(v12))
    }

    func testRoomVersionMustBeKnown() throws {
        for value: JSONValue in ["13", 10, ["10"]] {
            let pdu = try createEvent("11", content: ["room_version": value])
            XCTAssertAuthError(.createUnknownRoomVersion, try check(pdu))
        }
        XCTAssertNoThrow(try check(try createEvent("11", content: [:])))
    }

    func testCreatorIsRequiredUntilV11() throws {
        for version in 1...10 {
            XCTAssertAuthError(.createMissingCreator, try check(try createEvent(String(version), content: [:])))
        }
        XCTAssertNoThrow(try check(try createEvent("11", content: [:])))
        XCTAssertNoThrow(try check(try createEvent("12", content: [:])))
    }

    func testV12AdditionalCreatorsMustBeUserIDs() throws {
        XCTAssertNoThrow(try check(try createEvent("12", content: ["additional_creators": [.string(User.bob)]])))
        for bad: JSONValue in [.string(User.bob), [1], ["not-a-user"], [.string(User.bob), "@:"]] {
            XCTAssertAuthError(
                .createInvalidAdditionalCreators, try check(try createEvent("12", content: ["additional_creators": bad])))
        }
        XCTAssertNoThrow(try check(try createEvent("11", content: ["additional_creators": "ignored before v12"])))
    }
}
