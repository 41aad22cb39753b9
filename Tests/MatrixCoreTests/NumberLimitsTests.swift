import MatrixCore
import XCTest

/// Every number a remote server puts in an event, at its limits — 0, −1, 2^53−1, 2^53, 2^63−1 and
/// −2^63 — gets its defined outcome (kept exactly, or refused with the right error), never a trap.
final class NumberLimitsTests: XCTestCase {
    static let limits: [Int64] = [0, -1, 9_007_199_254_740_991, 9_007_199_254_740_992, .max, .min]
    static let oldVersions = ["1", "2", "3", "4", "5"]
    static let strictVersions = ["6", "10", "11", "12"]

    private func isCanonical(_ number: Int64) -> Bool { number.magnitude <= JSONValue.maxCanonicalInteger.magnitude }

    private func parse(_ version: String, _ mutate: (inout JSONObject) -> Void) throws -> PDU {
        var json = PDUTests.leave(version)
        mutate(&json)
        return try PDU(json: json, roomVersion: try XCTUnwrap(RoomVersion(version)))
    }

    private func assertRefused(_ version: String, _ expected: PDUError, _ mutate: (inout JSONObject) -> Void,
                               line: UInt = #line) {
        XCTAssertThrowsError(try parse(version, mutate), "v\(version)", line: line) { error in
            XCTAssertEqual(error as? PDUError, expected, "v\(version)", line: line)
        }
    }

    func testSaturatingAddClampsInsteadOfTrapping() {
        XCTAssertEqual(Int64.max.saturatingAdd(1), .max)
        XCTAssertEqual((Int64.max - 1).saturatingAdd(1), .max)
        XCTAssertEqual(Int64.max.saturatingAdd(.max), .max)
        XCTAssertEqual(Int64.min.saturatingAdd(-1), .min)
        XCTAssertEqual(Int64.min.saturatingAdd(.min), .min)
        XCTAssertEqual(Int64.max.saturatingAdd(.min), -1)
        XCTAssertEqual(Int64(0).saturatingAdd(-1), -1)
        XCTAssertEqual(Int64(9_007_199_254_740_991).saturatingAdd(1), 9_007_199_254_740_992)
    }

    func testDepthIsKeptUpToTheVersionsMaximumAndNegativeDepthIsRefused() throws {
        for number in Self.limits {
            for version in Self.oldVersions + Self.strictVersions {
                let maximum = try XCTUnwrap(RoomVersion(version)).maxDepth
                if number >= 0, number <= maximum {
                    XCTAssertEqual(try parse(version) { $0["depth"] = .integer(number) }.depth, number, "v\(version)")
                } else {
                    assertRefused(version, .depthOutOfRange(number)) { $0["depth"] = .integer(number) }
                }
            }
        }
        XCTAssertEqual(try XCTUnwrap(RoomVersion("5")).maxDepth, .max)
        XCTAssertEqual(try XCTUnwrap(RoomVersion("6")).maxDepth, 9_007_199_254_740_991)
    }

    func testOriginServerTSIsKeptExactlyWhereTheVersionAllowsIt() throws {
        for number in Self.limits {
            for version in Self.oldVersions {
                XCTAssertEqual(try parse(version) { $0["origin_server_ts"] = .integer(number) }.originServerTS, number)
            }
            for version in Self.strictVersions {
                if isCanonical(number) {
                    XCTAssertEqual(try parse(version) { $0["origin_server_ts"] = .integer(number) }.originServerTS, number)
                } else {
                    assertRefused(version, .integerOutOfRange(String(number))) { $0["origin_server_ts"] = .integer(number) }
                }
            }
        }
    }

    func testContentAndUnsignedIntegersAreKeptExactlyWhereTheVersionAllowsThem() throws {
        for number in Self.limits {
            for version in Self.oldVersions + Self.strictVersions {
                let content: JSONObject = ["membership": "leave", "n": .integer(number), "list": [.integer(number)]]
                let unsigned: JSONObject = ["age": .integer(number)]
                if isCanonical(number) || Self.oldVersions.contains(version) {
                    let pdu = try parse(version) { $0["content"] = .object(content); $0["unsigned"] = .object(unsigned) }
                    XCTAssertEqual(pdu.content["n"], .integer(number))
                    XCTAssertEqual(pdu.json["unsigned"]?["age"], .integer(number))
                } else {
                    assertRefused(version, .integerOutOfRange(String(number))) { $0["content"] = .object(content) }
                    assertRefused(version, .integerOutOfRange(String(number))) { $0["unsigned"] = .object(unsigned) }
                }
            }
        }
    }

    func testTheParserKeepsEvery64BitIntegerAndTheTextOfLargerOnes() throws {
        for number in Self.limits {
            XCTAssertEqual(try JSONParser.parse(String(number)), .integer(number))
            XCTAssertEqual(try JSONParser.parse(#"{"depth":\#(number)}"#)["depth"], .integer(number))
        }
        for text in ["9223372036854775808", "-9223372036854775809", "99999999999999999999", "-99999999999999999999"] {
            XCTAssertEqual(try JSONParser.parse("[\(text)]"), [.nonCanonicalNumber(text)])
        }
    }

    func testPowerLevelsAtTheLimitsCompareWithoutOverflow() throws {
        // Alice (100) may set a level only up to her own; any 64-bit level is a level in v1–v5.
        for version in Self.oldVersions {
            for number in Self.limits {
                var room = try TestRoom.standard(version: version)
                let content = TestRoom.powerLevels(room.version, ["users": [User.alice: 100, User.mod: .integer(number)]])
                let send = { (room: inout TestRoom) in
                    try room.send(EventType.powerLevels, from: User.alice, stateKey: "", content: content)
                }
                if number <= 100 {
                    XCTAssertNoThrow(try send(&room), "v\(version) \(number)")
                } else {
                    XCTAssertAuthError(.powerLevelChangeNotAllowed(User.mod), try send(&room), "v\(version) \(number)")
                }
            }
        }
        // Strict versions: beyond ±(2^53−1) the event itself is malformed.
        var strict = try TestRoom.standard(version: "10")
        XCTAssertThrowsError(try strict.send(
            EventType.powerLevels, from: User.alice, stateKey: "", content: ["users": [User.mod: 9_007_199_254_740_992]])
        ) { error in XCTAssertEqual(error as? PDUError, .integerOutOfRange("9007199254740992")) }
    }

    func testARoomWhoseLevelsSitAtTheExtremesStillDecides() throws {
        for version in ["1", "5"] {
            var room = try TestRoom(version: version)
            try room.member(User.alice, Membership.join)
            try room.send(EventType.powerLevels, from: User.alice, stateKey: "", content: [
                "users": [User.alice: .integer(.max), User.mod: .integer(.min)], "users_default": .integer(.min),
                "events_default": .integer(.min), "state_default": .integer(.max), "ban": .integer(.max),
                "kick": .integer(.max), "invite": .integer(.min), "events": [:],
            ])
            try room.send(EventType.joinRules, from: User.alice, stateKey: "", content: ["join_rule": "public"])
            try room.member(User.mod, Membership.join)
            XCTAssertNoThrow(try room.send("m.room.message", from: User.mod, content: ["body": "at the floor"]), "v\(version)")
            XCTAssertAuthError(.insufficientPower, try room.send("m.room.topic", from: User.mod, stateKey: ""), "v\(version)")
            XCTAssertAuthError(.insufficientPower, try room.member(User.alice, Membership.ban, by: User.mod), "v\(version)")
            XCTAssertNoThrow(try room.member(User.mod, Membership.ban, by: User.alice), "v\(version)")
        }
    }

    func testStringLevelsBeforeV10CoverExactlyThe64BitRange() throws {
        let cases: [(text: String, level: Int64?)] = [
            ("0", 0), ("-1", -1), ("9007199254740991", 9_007_199_254_740_991), ("9007199254740992", 9_007_199_254_740_992),
            ("9223372036854775807", .max), ("-9223372036854775808", .min), (" +0009223372036854775807 ", .max),
            ("9223372036854775808", nil), ("-9223372036854775809", nil), ("99999999999999999999", nil),
        ]
        for (text, level) in cases {
            var room = try TestRoom.standard(version: "5")
            let content = TestRoom.powerLevels(room.version, ["users": [User.alice: 100, User.mod: .string(text)]])
            let send = { (room: inout TestRoom) in
                try room.send(EventType.powerLevels, from: User.alice, stateKey: "", content: content)
            }
            switch level {
            case nil: XCTAssertAuthError(.invalidPowerLevels("users entry \(User.mod)"), try send(&room), text)
            case let level? where level > 100: XCTAssertAuthError(.powerLevelChangeNotAllowed(User.mod), try send(&room), text)
            default: XCTAssertNoThrow(try send(&room), text)
            }
        }
    }

    func testFirstNonInt64NumberFindsWhatNoSignedBodyCanCarry() throws {
        for number in Self.limits {
            XCTAssertNil(JSONValue.object(["a": [.integer(number), ["b": .integer(number)]]]).firstNonInt64Number)
        }
        let value = try JSONParser.parse(#"{"a": [1, {"b": 9223372036854775808}], "c": 1.5, "d": -9223372036854775809}"#)
        XCTAssertEqual(value.firstNonInt64Number, "9223372036854775808")
        XCTAssertEqual(try JSONParser.parse(#"[0, {"x": 1e5}]"#).firstNonInt64Number, "1e5")
        XCTAssertEqual(try JSONParser.parse("-9223372036854775809").firstNonInt64Number, "-9223372036854775809")
    }
}
