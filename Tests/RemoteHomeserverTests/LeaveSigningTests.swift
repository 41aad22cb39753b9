import MatrixCore
import MatrixCrypto
import RemoteHomeserver
import TestSupport
import XCTest

/// Signing leaves from make_leave templates: the `bob_leave` vectors of every room version are
/// reproduced byte for byte, and templates that are not the asked-for leave are refused.
final class LeaveSigningTests: XCTestCase {
    private struct Vector {
        let version: String
        let makeLeaveResponse: JSONValue
        let sendLeaveBody: JSONObject
        let roomID: String
    }

    private func vectors() throws -> (remote: EventSigner, cases: [Vector]) {
        let file = try JSONParser.parse(try Vectors.bytes("events"))
        let server = try XCTUnwrap(file["servers"]?["remote.test"])
        let seed = try XCTUnwrap(Base64.decode(try XCTUnwrap(server["seed_unpadded_base64"]?.stringValue)))
        let keyID = try XCTUnwrap(server["key_id"]?.stringValue)
        let key = try SigningKey(version: String(keyID.dropFirst("ed25519:".count)), seed: seed)
        var cases: [Vector] = []
        for version in (1...12).map(String.init) {
            let events = try XCTUnwrap(file["versions"]?[version]?["events"]?.arrayValue)
            let leave = try XCTUnwrap(events.first { $0["name"] == "bob_leave" })
            cases.append(Vector(
                version: version,
                makeLeaveResponse: try XCTUnwrap(leave["make_leave_response"]),
                sendLeaveBody: try XCTUnwrap(leave["send_leave_request"]?["body"]?.objectValue),
                roomID: try XCTUnwrap(file["versions"]?[version]?["room_id"]?.stringValue)))
        }
        return (EventSigner(serverName: "remote.test", key: key), cases)
    }

    func testReproducesTheSendLeaveBodyOfEveryVersion() throws {
        let (remote, cases) = try vectors()
        XCTAssertEqual(cases.count, 12)
        for vector in cases {
            let expected = vector.sendLeaveBody.removing("unsigned")
            let signed = try remote.signLeave(makeLeaveResponse: vector.makeLeaveResponse, roomID: vector.roomID,
                                              userID: "@bob:remote.test",
                                              eventID: vector.sendLeaveBody["event_id"]?.stringValue)
            XCTAssertEqual(signed.pdu, expected, "v\(vector.version)")
            XCTAssertEqual(signed.pdu["signatures"]?["remote.test"]?["ed25519:rm1"],
                           vector.sendLeaveBody["signatures"]?["remote.test"]?["ed25519:rm1"], "v\(vector.version)")
            let version = try XCTUnwrap(RoomVersion(vector.version))
            XCTAssertEqual(signed.eventID, try EventHashing.eventID(of: signed.pdu, version: version), "v\(vector.version)")
        }
    }

    func testGivesV1AndV2LeavesAFreshEventIDOnItsOwnServer() throws {
        let (remote, cases) = try vectors()
        for vector in cases.prefix(2) {
            let signed = try remote.signLeave(makeLeaveResponse: vector.makeLeaveResponse, roomID: vector.roomID,
                                              userID: "@bob:remote.test")
            XCTAssertTrue(signed.eventID.hasPrefix("$"))
            XCTAssertTrue(signed.eventID.hasSuffix(":remote.test"))
            XCTAssertNotEqual(signed.eventID, vector.makeLeaveResponse["event"]?["event_id"]?.stringValue)
            XCTAssertEqual(signed.pdu["event_id"]?.stringValue, signed.eventID)
        }
    }

    func testRefusesTemplatesThatAreNotTheRequestedLeave() throws {
        let (remote, cases) = try vectors()
        let vector = try XCTUnwrap(cases.last)
        let template = try XCTUnwrap(vector.makeLeaveResponse["event"]?.objectValue)
        let version = try XCTUnwrap(RoomVersion(vector.version))
        func refusal(_ change: (inout JSONObject) -> Void, userID: String = "@bob:remote.test") -> LeaveTemplateError? {
            var changed = template
            change(&changed)
            do {
                _ = try remote.signLeave(template: changed, version: version, roomID: vector.roomID, userID: userID)
                return nil
            } catch {
                return error
            }
        }
        XCTAssertNil(refusal { _ in })
        XCTAssertEqual(refusal { $0["room_id"] = "!other:resident.test" },
                       .mismatch(member: "room_id", expected: vector.roomID, found: "!other:resident.test"))
        XCTAssertEqual(refusal { $0["sender"] = "@carol:remote.test" },
                       .mismatch(member: "sender", expected: "@bob:remote.test", found: "@carol:remote.test"))
        XCTAssertEqual(refusal { $0["state_key"] = nil },
                       .mismatch(member: "state_key", expected: "@bob:remote.test", found: nil))
        XCTAssertEqual(refusal { $0["type"] = "m.room.message" },
                       .mismatch(member: "type", expected: "m.room.member", found: "m.room.message"))
        XCTAssertEqual(refusal { $0["content"] = ["membership": "join"] },
                       .mismatch(member: "content.membership", expected: "leave", found: "join"))
        XCTAssertEqual(refusal({ _ in }, userID: "@mallory:evil.test"), .notOurUser("@mallory:evil.test"))

        XCTAssertThrowsError(try remote.signLeave(makeLeaveResponse: ["event": .object(template)],
                                                  roomID: vector.roomID, userID: "@bob:remote.test")) {
            XCTAssertEqual($0 as? LeaveTemplateError, .missingRoomVersion)
        }
        XCTAssertThrowsError(try remote.signLeave(makeLeaveResponse: ["room_version": "99", "event": .object(template)],
                                                  roomID: vector.roomID, userID: "@bob:remote.test")) {
            XCTAssertEqual($0 as? LeaveTemplateError, .unknownRoomVersion("99"))
        }
    }
}
