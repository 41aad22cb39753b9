import MatrixCore
import XCTest

/// Power levels: the generic rules for other events (joined sender, required level, foreign user
/// state keys, `m.room.third_party_invite`) and changes to `m.room.power_levels`.
final class AuthRulesPowerLevelsTests: XCTestCase {
    private func setLevels(_ room: inout TestRoom, by sender: String, _ extra: JSONObject) throws {
        try room.send(EventType.powerLevels, from: sender, stateKey: "", content: TestRoom.powerLevels(room.version, extra))
    }

    func testSenderMustBeJoinedAndPowerfulEnough() throws {
        for version in 1...12 {
            let label = "v\(version)"
            var room = try TestRoom.standard(version: String(version), levels: ["events": ["m.room.name": 60]])
            XCTAssertAuthError(
                .senderNotJoined(currentMembership: nil), try room.send("m.room.message", from: User.bob), label)
            try room.member(User.bob, Membership.join)
            XCTAssertNoThrow(try room.send("m.room.message", from: User.bob, content: ["body": "hi"]), label)
            XCTAssertAuthError(.insufficientPower, try room.send("m.room.topic", from: User.bob, stateKey: ""), label)
            XCTAssertNoThrow(try room.send("m.room.topic", from: User.mod, stateKey: ""), label)
            XCTAssertAuthError(.insufficientPower, try room.send("m.room.name", from: User.mod, stateKey: ""), label)
            XCTAssertNoThrow(try room.send("m.room.name", from: User.alice, stateKey: ""), label)
        }
    }

    func testStateKeysNamingAnotherUserAreRefused() throws {
        var room = try TestRoom.standard(version: "10")
        XCTAssertAuthError(.stateKeyIsOtherUser, try room.send("org.example.s", from: User.alice, stateKey: User.mod))
        XCTAssertNoThrow(try room.send("org.example.s", from: User.mod, stateKey: User.mod))
        XCTAssertNoThrow(try room.send("org.example.s", from: User.alice, stateKey: "plain"))
    }

    func testThirdPartyInviteEventsNeedTheInviteLevel() throws {
        var room = try TestRoom.standard(version: "10", levels: ["invite": 50, "state_default": 0])
        try room.member(User.bob, Membership.join)
        XCTAssertAuthError(.insufficientPower, try room.send(EventType.thirdPartyInvite, from: User.bob, stateKey: "t"))
        XCTAssertNoThrow(try room.send(EventType.thirdPartyInvite, from: User.mod, stateKey: "t"))
    }

    func testWithoutPowerLevelsTheCreatorHas100AndOthers0() throws {
        for version in ["1", "10", "11"] {
            var room = try TestRoom(version: version)
            try room.member(User.alice, Membership.join)
            try room.send(EventType.joinRules, from: User.alice, stateKey: "", content: ["join_rule": "public"])
            try room.member(User.bob, Membership.join)
            XCTAssertAuthError(.insufficientPower, try room.send("m.room.topic", from: User.bob, stateKey: ""))
            XCTAssertNoThrow(try room.send("m.room.message", from: User.bob))
            XCTAssertNoThrow(try room.send("m.room.topic", from: User.alice, stateKey: ""), "v\(version)")
        }
    }

    func testV12CreatorsHaveInfinitePowerAndMayNotBeListed() throws {
        var room = try TestRoom(version: "12", createContent: ["additional_creators": [.string(User.carol)]])
        try room.member(User.alice, Membership.join)
        XCTAssertAuthError(
            .creatorInPowerLevels(User.carol),
            try room.send(EventType.powerLevels, from: User.alice, stateKey: "", content: ["users": [User.carol: 100]]))
        XCTAssertAuthError(
            .creatorInPowerLevels(User.alice),
            try room.send(EventType.powerLevels, from: User.alice, stateKey: "", content: ["users": [User.alice: 100]]))
        try setLevels(&room, by: User.alice, ["users": [User.mod: 9_000_000_000_000], "ban": 9_000_000_000_000])
        try room.send(EventType.joinRules, from: User.alice, stateKey: "", content: ["join_rule": "public"])
        try room.member(User.carol, Membership.join)
        try room.member(User.mod, Membership.join)
        XCTAssertAuthError(.insufficientPower, try room.member(User.carol, Membership.ban, by: User.mod))
        XCTAssertNoThrow(try room.member(User.mod, Membership.ban, by: User.carol))
    }

    func testFirstPowerLevelsEventIsOnlyCheckedForShape() throws {
        var room = try TestRoom(version: "10")
        try room.member(User.alice, Membership.join)
        XCTAssertAuthError(
            .invalidPowerLevels("users entry not-a-user"),
            try room.send(EventType.powerLevels, from: User.alice, stateKey: "", content: ["users": ["not-a-user": 1]]))
        XCTAssertNoThrow(
            try room.send(EventType.powerLevels, from: User.alice, stateKey: "", content: ["users": [User.bob: 1000]]))
    }

    func testIntegerOnlyPowerLevelsFromV10() throws {
        let stringy: [JSONObject] = [
            ["ban": "50"], ["events": ["m.room.name": "50"]], ["notifications": ["room": "50"]],
            ["users": [User.mod: "50"]], ["events": "none"],
        ]
        for version in [9, 10, 12] {
            for levels in stringy {
                var room = try TestRoom.standard(version: String(version))
                let send = { (room: inout TestRoom) in try self.setLevels(&room, by: User.alice, levels) }
                if version >= 10 || levels["events"] == "none" {
                    XCTAssertThrowsError(try send(&room), "v\(version) \(levels)") { error in
                        guard case .invalidPowerLevels? = error as? AuthError else { return XCTFail("\(error)") }
                    }
                } else {
                    XCTAssertNoThrow(try send(&room), "v\(version) \(levels)")
                }
            }
        }
    }

    func testStringLevelsBeforeV10CountAsTheirIntegers() throws {
        var room = try TestRoom.standard(version: "9", levels: ["users": [User.alice: 100, User.mod: " +050 "]])
        XCTAssertNoThrow(try room.send("m.room.topic", from: User.mod, stateKey: ""))
        try setLevels(&room, by: User.alice, ["users": [User.alice: 100, User.mod: "0049"]])
        XCTAssertAuthError(.insufficientPower, try room.send("m.room.topic", from: User.mod, stateKey: ""))
        let garbage = TestRoom.powerLevels(room.version, ["users": [User.alice: 100], "kick": "x"])
        XCTAssertAuthError(
            .invalidPowerLevels("kick holds a value that is not a level"),
            try room.send(EventType.powerLevels, from: User.alice, stateKey: "", content: garbage))
        // Had such an event got into the state, a kick could not be decided.
        room.accept(try room.event(type: EventType.powerLevels, sender: User.alice, stateKey: "", content: garbage))
        try room.member(User.bob, Membership.join)
        XCTAssertAuthError(
            .invalidPowerLevels("kick holds a value that is not a level"), try room.member(User.bob, Membership.leave, by: User.alice))
    }

    func testChangesBeyondTheSendersOwnPowerAreRefused() throws {
        for version in [1, 6, 10, 11, 12] {
            let label = "v\(version)"
            var room = try TestRoom.standard(version: String(version), levels: ["events": ["m.room.power_levels": 50]])
            try room.member(User.bob, Membership.join)
            try setLevels(&room, by: User.alice, ["events": ["m.room.power_levels": 50], "users": [User.mod: 50, User.bob: 50]])
            // mod (50) may not raise anyone above 50, nor touch alice (100), nor demote bob (equal), nor raise a level.
            let tooHigh: [JSONObject] = [
                ["users": [User.mod: 51, User.bob: 50]],
                ["users": [User.mod: 50, User.bob: 0]],
                ["users": [User.mod: 50, User.bob: 50], "kick": 51],
                ["users": [User.mod: 50, User.bob: 50], "events": ["m.room.power_levels": 50, "m.room.tombstone": 60]],
            ]
            for levels in tooHigh {
                XCTAssertThrowsError(try setLevels(&room, by: User.mod, levels), "\(label) \(levels)") { error in
                    guard case .powerLevelChangeNotAllowed? = error as? AuthError else { return XCTFail("\(error)") }
                }
            }
            // mod may demote itself, and lower levels it can reach.
            XCTAssertNoThrow(
                try setLevels(&room, by: User.mod, ["events": ["m.room.power_levels": 50], "users": [User.mod: 40, User.bob: 50], "ban": 40]),
                label)
        }
    }

    func testNotificationLevelsAreCheckedFromV6() throws {
        for version in [5, 6, 12] {
            var room = try TestRoom.standard(
                version: String(version), levels: ["events": ["m.room.power_levels": 50], "notifications": ["room": 100]])
            let lowered: JSONObject = ["events": ["m.room.power_levels": 50], "notifications": ["room": 10]]
            if version >= 6 {
                XCTAssertAuthError(
                    .powerLevelChangeNotAllowed("room"), try setLevels(&room, by: User.mod, lowered), "v\(version)")
            } else {
                XCTAssertNoThrow(try setLevels(&room, by: User.mod, lowered), "v\(version)")
            }
        }
    }
}
