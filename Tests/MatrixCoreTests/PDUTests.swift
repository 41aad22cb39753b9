import MatrixCore
import XCTest

/// Valid PDUs of each format, and one test per kind of refused PDU.
final class PDUTests: XCTestCase {
    static let v10Room = "!leaveroom:resident.test"
    static let v12Room = "!xRklhWfePUyH6mEJVBLrBLu82Dm6FWTwrsdhWmWrRtI"
    static let urlSafeID = "$w9v1PuvbgpWJHJLhZMNgXYBd07MsrGCJAEc6_7T0Tok"
    static let standardID = "$ezxWl+O/YcAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

    /// A valid self-leave in `version`'s format.
    static func leave(_ version: String) -> JSONObject {
        var json: JSONObject = [
            "type": "m.room.member", "sender": "@bob:remote.test", "state_key": "@bob:remote.test",
            "room_id": .string(version == "12" ? v12Room : v10Room), "content": ["membership": "leave"],
            "origin_server_ts": 1_700_000_012_000, "depth": 12,
            "hashes": ["sha256": "ZmetgXtBhtCfo/OaPmjHQTl/H6+QdLWFTUyj9FkTA0A"],
            "signatures": ["remote.test": ["ed25519:rm1": "c2ln"]],
        ]
        switch version {
        case "1", "2":
            json["event_id"] = "$bob-leave:remote.test"
            json["prev_events"] = [["$prev:resident.test", ["sha256": "aGFzaA"]]]
            json["auth_events"] = [["$create:resident.test", ["sha256": "aGFzaA"]], ["$pl:resident.test", [:]]]
        case "3":
            json["prev_events"] = [.string(standardID)]
            json["auth_events"] = [.string(standardID)]
        default:
            json["prev_events"] = [.string(urlSafeID)]
            json["auth_events"] = [.string(urlSafeID)]
        }
        return json
    }

    private func parse(_ json: JSONObject, _ version: String) throws -> PDU {
        try PDU(json: json, roomVersion: try XCTUnwrap(RoomVersion(version)))
    }

    private func assertRefused(
        _ json: JSONObject, _ version: String, _ expected: PDUError, file: StaticString = #filePath, line: UInt = #line
    ) {
        XCTAssertThrowsError(try parse(json, version), file: file, line: line) { error in
            XCTAssertEqual(error as? PDUError, expected, file: file, line: line)
        }
    }

    private func with(_ version: String, _ edit: (inout JSONObject) -> Void) -> JSONObject {
        var json = PDUTests.leave(version)
        edit(&json)
        return json
    }

    func testValidLeavesParseAndKeepTheirJSON() throws {
        let v1 = try parse(PDUTests.leave("1"), "1")
        XCTAssertEqual(v1.explicitEventID, "$bob-leave:remote.test")
        XCTAssertEqual(v1.prevEventIDs, ["$prev:resident.test"])
        XCTAssertEqual(v1.authEventIDs, ["$create:resident.test", "$pl:resident.test"])
        let v3 = try parse(PDUTests.leave("3"), "3")
        XCTAssertNil(v3.explicitEventID)
        XCTAssertEqual(v3.authEventIDs, [PDUTests.standardID])
        let v10 = try parse(PDUTests.leave("10"), "10")
        XCTAssertEqual(v10.json, PDUTests.leave("10"))
        XCTAssertEqual(v10.membership, "leave")
        XCTAssertEqual(v10.stateKeyPair, .member("@bob:remote.test"))
        XCTAssertEqual(v10.depth, 12)
        XCTAssertEqual(v10.originServerTS, 1_700_000_012_000)
        XCTAssertTrue(v10.isState)
        XCTAssertNil(v10.redacts)
        XCTAssertEqual(try parse(PDUTests.leave("12"), "12").roomID, PDUTests.v12Room)
    }

    func testUnknownTopLevelMembersAndUnsignedAreAllowed() throws {
        let json = with("10") {
            $0["origin"] = "remote.test"
            $0["org.example.extra"] = ["k": "v"]
            $0["unsigned"] = ["age": 1234]
        }
        XCTAssertEqual(try parse(json, "10").json, json)
    }

    func testMissingRequiredMembers() {
        for name in [
            "type", "sender", "room_id", "content", "origin_server_ts", "depth", "prev_events", "auth_events", "hashes",
        ] {
            assertRefused(PDUTests.leave("10").removing(name), "10", .missingMember(name))
        }
        // No `signatures` is well formed but signed by nobody: the signature check refuses it (403).
        XCTAssertNoThrow(try parse(PDUTests.leave("10").removing("signatures"), "10"))
        assertRefused(PDUTests.leave("1").removing("event_id"), "1", .missingMember("event_id"))
        XCTAssertNoThrow(try parse(PDUTests.leave("10").removing("state_key"), "10"))
    }

    func testMembersOfTheWrongType() {
        let cases: [(String, JSONValue, String)] = [
            ("type", 1, "a string"), ("state_key", 5, "a string"), ("content", "leave", "an object"),
            ("depth", "12", "an integer"), ("origin_server_ts", .nonCanonicalNumber("1.5"), "an integer"),
            ("prev_events", [:], "an array"), ("unsigned", [], "an object"),
            ("hashes", ["sha1": "x"], "an object with a string 'sha256'"),
            ("signatures", ["remote.test": "sig"], "an object of objects of strings"),
            ("signatures", ["remote.test": ["ed25519:rm1": 1]], "an object of objects of strings"),
        ]
        for (name, value, expected) in cases {
            assertRefused(with("10") { $0[name] = value }, "10", .wrongType(member: name, expected: expected))
        }
        let redaction = with("10") {
            $0["type"] = "m.room.redaction"
            $0["redacts"] = 1
        }
        assertRefused(redaction, "10", .wrongType(member: "redacts", expected: "a string"))
    }

    func testInvalidIdentifiers() {
        assertRefused(with("10") { $0["sender"] = "bob" }, "10", .invalidIdentifier(member: "sender", value: "bob"))
        assertRefused(
            with("10") { $0["room_id"] = "#alias:resident.test" }, "10",
            .invalidIdentifier(member: "room_id", value: "#alias:resident.test"))
        assertRefused(
            with("1") { $0["event_id"] = "$no-domain" }, "1", .invalidIdentifier(member: "event_id", value: "$no-domain"))
    }

    func testFieldsLongerThan255BytesAreSizeViolations() {
        let long = String(repeating: "é", count: 128)  // 256 bytes, 128 characters
        for name in ["type", "state_key"] {
            let json = with("10") { $0[name] = .string(long) }
            assertRefused(json, "10", .memberTooLong(name))
            XCTAssertTrue(PDUError.memberTooLong(name).isSizeViolation)
        }
        assertRefused(
            with("10") { $0["sender"] = .string("@" + String(repeating: "b", count: 243) + ":remote.test") }, "10",
            .memberTooLong("sender"))
        assertRefused(
            with("1") { $0["event_id"] = .string("$" + String(repeating: "e", count: 243) + ":remote.test") }, "1",
            .memberTooLong("event_id"))
        XCTAssertNoThrow(try parse(with("10") { $0["type"] = .string(String(repeating: "t", count: 255)) }, "10"))
    }

    func testWholePDUOver65536BytesIsRefusedButUnsignedDoesNotCount() {
        let filler = JSONValue.string(String(repeating: "x", count: 65536))
        let big = with("10") { $0["content"] = ["membership": "leave", "reason": filler] }
        XCTAssertThrowsError(try parse(big, "10")) { error in
            guard case .tooLarge(let bytes)? = error as? PDUError else { return XCTFail("\(error)") }
            XCTAssertGreaterThan(bytes, 65536)
            XCTAssertTrue((error as? PDUError)?.isSizeViolation == true)
        }
        XCTAssertNoThrow(try parse(with("10") { $0["unsigned"] = ["padding": filler] }, "10"))
    }

    /// The size is measured without encoding: it must equal the encoded length to the byte,
    /// escapes, non-ASCII text and numbers included.
    func testSizeLimitIsExactToTheByte() throws {
        let tricky = "q\"b\\n\n\u{1}\u{b}\u{1f}t\té😀"
        func leave(_ version: String, padding: Int) -> JSONObject {
            with(version) {
                $0["content"] = [
                    "membership": "leave", "reason": .string(tricky), "n": [-9_007_199_254_740_991, 0, 7, true, nil],
                    "pad": .string(String(repeating: "x", count: padding)),
                ]
                $0["unsigned"] = ["age": 1]
            }
        }
        for version in ["3", "10"] {
            let base = leave(version, padding: 0).removing("unsigned").compactBytes().count
            let exact = leave(version, padding: PDU.maxBytes - base)
            XCTAssertEqual(exact.removing("unsigned").compactBytes().count, PDU.maxBytes)
            XCTAssertNoThrow(try parse(exact, version), "v\(version): exactly 65536 bytes")
            assertRefused(leave(version, padding: PDU.maxBytes - base + 1), version, .tooLarge(bytes: PDU.maxBytes + 1))
        }
    }

    func testAtMostTwentyPrevEventsAndTenAuthEvents() {
        let ids = (0..<21).map { _ in JSONValue.string(PDUTests.urlSafeID) }
        XCTAssertNoThrow(try parse(with("10") { $0["prev_events"] = .array(Array(ids.prefix(20))) }, "10"))
        assertRefused(
            with("10") { $0["prev_events"] = .array(ids) }, "10", .tooManyReferences(member: "prev_events", count: 21))
        XCTAssertNoThrow(try parse(with("10") { $0["auth_events"] = .array(Array(ids.prefix(10))) }, "10"))
        assertRefused(
            with("10") { $0["auth_events"] = .array(Array(ids.prefix(11))) }, "10",
            .tooManyReferences(member: "auth_events", count: 11))
    }

    func testReferencesMustUseTheVersionsEntryFormat() {
        let pair: JSONValue = [.string(PDUTests.urlSafeID), ["sha256": "x"]]
        assertRefused(with("10") { $0["prev_events"] = [pair] }, "10", .invalidReference(member: "prev_events", index: 0))
        assertRefused(
            with("1") { $0["auth_events"] = ["$create:resident.test"] }, "1",
            .invalidReference(member: "auth_events", index: 0))
        assertRefused(
            with("1") { $0["prev_events"] = [["$a:resident.test", [:], "extra"]] }, "1",
            .invalidReference(member: "prev_events", index: 0))
        assertRefused(
            with("1") { $0["prev_events"] = [["$a:resident.test", "hash"]] }, "1",
            .invalidReference(member: "prev_events", index: 0))
        assertRefused(
            with("3") { $0["prev_events"] = [.string(PDUTests.urlSafeID)] }, "3",
            .invalidReference(member: "prev_events", index: 0))
        assertRefused(
            with("10") { $0["auth_events"] = [.string(PDUTests.urlSafeID), .string(PDUTests.standardID)] }, "10",
            .invalidReference(member: "auth_events", index: 1))
        assertRefused(
            with("10") { $0["auth_events"] = ["$short"] }, "10", .invalidReference(member: "auth_events", index: 0))
        assertRefused(
            with("10") { $0["auth_events"] = ["$old:resident.test"] }, "10",
            .invalidReference(member: "auth_events", index: 0))
    }

    func testDepthRangeFollowsTheVersion() {
        assertRefused(with("10") { $0["depth"] = -1 }, "10", .depthOutOfRange(-1))
        assertRefused(with("10") { $0["depth"] = 9_007_199_254_740_992 }, "10", .depthOutOfRange(9_007_199_254_740_992))
        XCTAssertNoThrow(try parse(with("10") { $0["depth"] = 9_007_199_254_740_991 }, "10"))
        XCTAssertNoThrow(try parse(with("3") { $0["depth"] = .integer(.max) }, "3"))
        XCTAssertNoThrow(try parse(with("3") { $0["depth"] = 0 }, "3"))
    }

    func testNumbersWithAFractionOrExponentAreRefusedInEveryVersion() throws {
        for version in ["1", "3", "5", "6", "10", "12"] {
            let float = try JSONParser.parse(#"{"membership": "leave", "x": [1.5]}"#)
            assertRefused(with(version) { $0["content"] = float }, version, .nonIntegerNumber("1.5"))
            let exponent = try JSONParser.parse(#"{"a": 1e5}"#)
            assertRefused(with(version) { $0["unsigned"] = exponent }, version, .nonIntegerNumber("1e5"))
        }
    }

    func testIntegersBeyondCanonicalRangeAreRefusedFromV6Only() throws {
        let large = try JSONParser.parse(#"{"membership": "leave", "n": -9007199254740992}"#)
        let huge = try JSONParser.parse(#"{"membership": "leave", "n": 123456789012345678901234567890}"#)
        for version in ["6", "10", "12"] {
            assertRefused(with(version) { $0["content"] = large }, version, .integerOutOfRange("-9007199254740992"))
            assertRefused(
                with(version) { $0["content"] = huge }, version, .integerOutOfRange("123456789012345678901234567890"))
        }
        for version in ["1", "5"] {
            XCTAssertNoThrow(try parse(with(version) { $0["content"] = large }, version))
            XCTAssertNoThrow(try parse(with(version) { $0["content"] = huge }, version))
        }
    }

    func testV12CreateEventHasNoRoomIDAndIsNeverCited() throws {
        let create: JSONObject = [
            "type": "m.room.create", "sender": "@alice:resident.test", "state_key": "", "content": ["room_version": "12"],
            "origin_server_ts": 1, "depth": 1, "prev_events": [], "auth_events": [],
            "hashes": ["sha256": "aGFzaA"], "signatures": [:],
        ]
        XCTAssertNil(try parse(create, "12").roomID)
        assertRefused(create, "11", .missingMember("room_id"))
        assertRefused(PDUTests.leave("12").removing("room_id"), "12", .missingMember("room_id"))
        let createID = RoomVersion.createEventID(ofRoom: PDUTests.v12Room)
        assertRefused(
            with("12") { $0["auth_events"] = [.string(PDUTests.urlSafeID), .string(createID)] }, "12",
            .createEventInAuthEvents(createID))
    }
}
