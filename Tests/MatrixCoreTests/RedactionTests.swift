import MatrixCore
import XCTest

/// The redaction tables of events-and-room-versions.md §6, version by version.
final class RedactionTests: XCTestCase {
    private func redact(_ event: JSONObject, _ version: Int) throws -> JSONObject {
        Redaction.redact(event, version: try XCTUnwrap(RoomVersion(String(version))))
    }

    private func event(_ type: String, _ content: JSONObject) -> JSONObject {
        [
            "type": .string(type), "content": .object(content), "sender": "@u:a.test", "room_id": "!r:a.test",
            "state_key": "", "event_id": "$e:a.test", "hashes": ["sha256": "h"], "signatures": ["a.test": ["k": "s"]],
            "depth": 3, "prev_events": [], "auth_events": [], "origin_server_ts": 1, "origin": "a.test",
            "membership": "join", "prev_state": [], "unsigned": ["age": 1], "redacts": "$x:a.test", "custom": true,
        ]
    }

    func testTopLevelMembersKeptPerVersion() throws {
        let always: Set<String> = [
            "event_id", "type", "room_id", "sender", "state_key", "content", "hashes", "signatures", "depth",
            "prev_events", "auth_events", "origin_server_ts",
        ]
        for version in 1...12 {
            let kept = Set(try redact(event("m.room.message", ["body": "hi"]), version).keys)
            XCTAssertEqual(kept, version <= 10 ? always.union(["origin", "membership", "prev_state"]) : always, "v\(version)")
        }
    }

    func testContentIsAlwaysPresent() throws {
        var noContent = event("m.room.message", [:])
        noContent["content"] = nil
        XCTAssertEqual(try redact(noContent, 10)["content"], .object([:]))
        var notAnObject = event("m.room.message", [:])
        notAnObject["content"] = "text"
        XCTAssertEqual(try redact(notAnObject, 11)["content"], .object([:]))
        XCTAssertEqual(try redact(event("m.room.message", ["body": "x"]), 1)["content"], .object([:]))
    }

    func testMemberContent() throws {
        let content: JSONObject = [
            "membership": "join", "displayname": "Bob", "reason": "r", "join_authorised_via_users_server": "@a:a.test",
            "third_party_invite": ["signed": ["mxid": "@b:b.test", "token": "t"], "display_name": "b"],
        ]
        for version in 1...12 {
            let kept = try redact(event("m.room.member", content), version)["content"]?.objectValue
            var expected: JSONObject = ["membership": "join"]
            if version >= 9 { expected["join_authorised_via_users_server"] = "@a:a.test" }
            if version >= 11 { expected["third_party_invite"] = ["signed": ["mxid": "@b:b.test", "token": "t"]] }
            XCTAssertEqual(kept, expected, "v\(version)")
        }
    }

    func testThirdPartyInviteWithoutSignedOrNotAnObject() throws {
        let withoutSigned = try redact(event("m.room.member", ["membership": "invite", "third_party_invite": ["x": 1]]), 11)
        XCTAssertEqual(withoutSigned["content"]?["third_party_invite"], .object([:]))
        let notObject = try redact(event("m.room.member", ["membership": "invite", "third_party_invite": "t"]), 12)
        XCTAssertEqual(notObject["content"], ["membership": "invite"])
    }

    func testCreateContent() throws {
        let content: JSONObject = ["creator": "@u:a.test", "room_version": "11", "m.federate": false]
        for version in 1...12 {
            let kept = try redact(event("m.room.create", content), version)["content"]?.objectValue
            XCTAssertEqual(kept, version >= 11 ? content : ["creator": "@u:a.test"], "v\(version)")
        }
    }

    func testJoinRulesPowerLevelsHistoryVisibilityAliasesAndRedactionContent() throws {
        let joinRules: JSONObject = ["join_rule": "restricted", "allow": [["type": "m.room_membership"]], "x": 1]
        let powerLevels: JSONObject = [
            "ban": 50, "events": ["m.room.name": 50], "events_default": 0, "kick": 50, "redact": 50,
            "state_default": 50, "users": ["@u:a.test": 100], "users_default": 0, "invite": 0,
            "notifications": ["room": 50], "historical": 100,
        ]
        for version in 1...12 {
            let label = "v\(version)"
            XCTAssertEqual(
                try redact(event("m.room.join_rules", joinRules), version)["content"]?.objectValue,
                joinRules.keeping(version >= 8 ? ["join_rule", "allow"] : ["join_rule"]), label)
            var keptLevels: Set<ExactString> = [
                "ban", "events", "events_default", "kick", "redact", "state_default", "users", "users_default",
            ]
            if version >= 11 { keptLevels.insert("invite") }
            XCTAssertEqual(
                try redact(event("m.room.power_levels", powerLevels), version)["content"]?.objectValue,
                powerLevels.keeping(keptLevels), label)
            XCTAssertEqual(
                try redact(event("m.room.history_visibility", ["history_visibility": "shared", "x": 1]), version)["content"],
                ["history_visibility": "shared"], label)
            XCTAssertEqual(
                try redact(event("m.room.aliases", ["aliases": ["#a:a.test"], "x": 1]), version)["content"],
                version <= 5 ? ["aliases": ["#a:a.test"]] : [:], label)
            XCTAssertEqual(
                try redact(event("m.room.redaction", ["redacts": "$x:a.test", "reason": "r"]), version)["content"],
                version >= 11 ? ["redacts": "$x:a.test"] : [:], label)
        }
    }

    func testALeaveKeepsOnlyItsMembership() throws {
        for version in 1...12 {
            let leave = event("m.room.member", ["membership": "leave", "reason": "bye"])
            XCTAssertEqual(try redact(leave, version)["content"], ["membership": "leave"], "v\(version)")
        }
    }

    func testRedactingTwiceChangesNothing() throws {
        for version in 1...12 {
            let once = try redact(event("m.room.power_levels", ["users": [:], "invite": 5, "x": 1]), version)
            XCTAssertEqual(try redact(once, version), once, "v\(version)")
        }
    }
}
