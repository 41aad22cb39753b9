import MatrixCore
import TestSupport
import XCTest

final class IdentifierIDTests: XCTestCase {
    private let hash = "xRklhWfePUyH6mEJVBLrBLu82Dm6FWTwrsdhWmWrRtI"

    func testUserIDParts() throws {
        let user = try XCTUnwrap(UserID("@alice:resident.test"))
        XCTAssertEqual(user.localpart, "alice")
        XCTAssertEqual(user.server, "resident.test")
        let withPort = try XCTUnwrap(UserID("@bob:[::1]:8448", historical: false))
        XCTAssertEqual(withPort.localpart, "bob")
        XCTAssertEqual(withPort.server, "[::1]:8448")
        XCTAssertEqual(withPort.description, "@bob:[::1]:8448")
    }

    func testCurrentLocalpartGrammar() {
        for text in ["@a:x", "@a.b_c=d-e/f+g:x", "@0123456789:x.y"] {
            XCTAssertNotNil(UserID(text, historical: false), text)
        }
        for text in ["@A:x", "@:x", "@a b:x", "@\u{e9}:x", "@a!:x", "@a#:x"] {
            XCTAssertNil(UserID(text, historical: false), text)
            XCTAssertNotNil(UserID(text), "historical \(text)")
        }
    }

    func testInvalidUserIDs() {
        for text in ["alice:x", "@alice", "@alice:", "@alice:bad_host", "!alice:x", "@a\u{0}b:x", "@a:x:", "@a:x:0",
                     "@a:" + String(repeating: "h", count: 253)] {
            XCTAssertNil(UserID(text), text)
        }
    }

    /// Found by the identifiers fuzz target: `:` followed by a combining mark is a single Swift
    /// `Character`, but still the first `:` byte, where every ID splits (as Synapse splits them).
    func testTheFirstColonSplitsEvenWhenACombiningMarkFollowsIt() throws {
        for mark in ["\u{301}", "\u{5C4}"] {
            XCTAssertNil(UserID("@a:\(mark)x:remote.test"), "user, mark \(mark.unicodeScalars.first!.value)")
            XCTAssertNil(RoomID("!a:\(mark)x:remote.test"), "room")
            XCTAssertNil(EventID("$a:\(mark)x:remote.test"), "event")
            let user = try XCTUnwrap(UserID("@a\(mark):remote.test"))
            XCTAssertEqual(Array(user.localpart.utf8), Array("a\(mark)".utf8))
            XCTAssertEqual(user.server, "remote.test")
        }
    }

    func testUserIDLengthLimitIs255Bytes() {
        let server = ":" + String(repeating: "h", count: 200)
        let longest = "@" + String(repeating: "u", count: 53) + server
        XCTAssertEqual(longest.utf8.count, 255)
        XCTAssertNotNil(UserID(longest, historical: false))
        XCTAssertNil(UserID("@" + String(repeating: "u", count: 54) + server))
        // Counted in bytes, not characters.
        XCTAssertNil(UserID("@" + String(repeating: "\u{e9}", count: 27) + server))
    }

    func testRoomIDForms() throws {
        let classic = try XCTUnwrap(RoomID("!leaveroom:resident.test"))
        XCTAssertEqual(classic.server, "resident.test")
        XCTAssertNil(RoomID("!a:b:c"))
        XCTAssertEqual(RoomID("!r:[::1]:8448")?.server, "[::1]:8448")
        let hashed = try XCTUnwrap(RoomID("!" + hash))
        XCTAssertNil(hashed.server)
        XCTAssertEqual(hashed.text, "!" + hash)
    }

    func testInvalidRoomIDs() {
        for text in ["", "!", "!:x", "!room", "room:x", "$room:x", "!room:", "!room:x_y", "!" + hash.dropLast(),
                     "!" + hash + "A", "!" + hash.replacingOccurrences(of: "W", with: "+"),
                     "!r:" + String(repeating: "h", count: 253)] {
            XCTAssertNil(RoomID(text), text)
        }
    }

    func testEventIDForms() throws {
        let explicit = try XCTUnwrap(EventID("$bob-leave-v1:remote.test"))
        XCTAssertEqual(explicit.server, "remote.test")
        XCTAssertNil(EventID("$Kk/UYoKzViKNGTy3f91FkJssJ0FZ7SYmNM703EOq8HQ")?.server)
        XCTAssertNotNil(EventID("$Kk/UYoKzViKNGTy3f91FkJssJ0FZ7SYmNM703EOq8HQ"))
        XCTAssertNotNil(EventID("$KUiHDBeCYvmWURDYM4r-PEPVwdNF6rBVSErYPkj6ndQ"))
    }

    func testInvalidEventIDs() {
        for text in ["", "$", "$:x", "$event", "$event:", "event:x", "!" + hash, "$" + hash.dropLast(), "$" + hash + "=",
                     "$Kk/UYoKzViKNGTy3f91FkJssJ0FZ7SYmNM703EOq8-Q", "$Kk/UYoKzViKNGTy3f91FkJssJ0FZ7SYmNM703EOq8H.",
                     "$e\u{0}:x", "$e:" + String(repeating: "h", count: 253)] {
            XCTAssertNil(EventID(text), text)
        }
    }

    func testEveryIDInTheEventVectorsIsValid() throws {
        let file = try JSONParser.parse(try Vectors.bytes("events"))
        let versions = try XCTUnwrap(file["versions"]?.objectValue)
        XCTAssertEqual(versions.count, 12)
        for (version, room) in versions.members.map({ ($0.key, $0.value) }) {
            let roomID = try XCTUnwrap(room["room_id"]?.stringValue)
            XCTAssertEqual(RoomID(roomID)?.server, version == "12" ? nil : "resident.test", roomID)
            for event in try XCTUnwrap(room["events"]?.arrayValue) {
                let eventID = try XCTUnwrap(event["event_id"]?.stringValue)
                XCTAssertNotNil(EventID(eventID), eventID)
                XCTAssertEqual(EventID(eventID)?.server == nil, ["1", "2"].contains(version) == false, eventID)
                let sender = try XCTUnwrap(event["pdu"]?["sender"]?.stringValue)
                XCTAssertNotNil(UserID(sender, historical: false), sender)
            }
        }
    }
}
