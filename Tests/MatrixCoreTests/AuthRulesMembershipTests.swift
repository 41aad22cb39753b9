import MatrixCore
import XCTest

/// The `m.room.member` rules for join, invite (incl. third-party invites), knock and unknown
/// memberships, across room versions.
final class AuthRulesMembershipTests: XCTestCase {
    func testOnlyTheCreatorMayJoinRightAfterTheCreateEvent() throws {
        for version in ["1", "10", "11", "12"] {
            var room = try TestRoom(version: version)
            XCTAssertAuthError(.joinRuleForbids(nil), try room.member(User.bob, Membership.join), "v\(version)")
            XCTAssertNoThrow(try room.member(User.alice, Membership.join), "v\(version)")
        }
    }

    func testV11CreatorIsTheSenderNotContentCreator() throws {
        var room = try TestRoom(version: "11", createContent: ["creator": .string(User.bob)])
        XCTAssertAuthError(.joinRuleForbids(nil), try room.member(User.bob, Membership.join))
        XCTAssertNoThrow(try room.member(User.alice, Membership.join))
        var old = try TestRoom(version: "10", createContent: ["creator": .string(User.bob)])
        XCTAssertNoThrow(try old.member(User.bob, Membership.join))
    }

    func testJoinIsForOneselfAndNotWhenBanned() throws {
        var room = try TestRoom.standard(version: "10")
        XCTAssertAuthError(.senderIsNotTarget, try room.member(User.bob, Membership.join, by: User.alice))
        try room.member(User.bob, Membership.ban, by: User.alice)
        XCTAssertAuthError(.banned, try room.member(User.bob, Membership.join))
    }

    func testPublicRoomsLetAnyoneJoin() throws {
        for version in 1...12 {
            var room = try TestRoom.standard(version: String(version))
            XCTAssertNoThrow(try room.member(User.bob, Membership.join), "v\(version)")
        }
    }

    func testInviteRoomsNeedAnInvite() throws {
        for version in 1...12 {
            var room = try TestRoom.standard(version: String(version), joinRule: JoinRule.invite)
            XCTAssertAuthError(.joinRuleForbids(JoinRule.invite), try room.member(User.bob, Membership.join))
            try room.member(User.bob, Membership.invite, by: User.alice)
            XCTAssertNoThrow(try room.member(User.bob, Membership.join), "v\(version)")
            XCTAssertNoThrow(try room.member(User.bob, Membership.join), "v\(version): join again")
        }
    }

    func testKnockJoinRuleActsAsInviteFromV7AndIsUnknownBefore() throws {
        for version in 1...12 {
            var room = try TestRoom.standard(version: String(version), joinRule: JoinRule.knock)
            try room.member(User.bob, Membership.invite, by: User.alice)
            if version >= 7 {
                XCTAssertNoThrow(try room.member(User.bob, Membership.join), "v\(version)")
            } else {
                XCTAssertAuthError(.joinRuleForbids(JoinRule.knock), try room.member(User.bob, Membership.join))
            }
        }
    }

    func testRestrictedJoinRules() throws {
        for version in 1...12 {
            for rule in [JoinRule.restricted, JoinRule.knockRestricted] {
                let known = rule == JoinRule.restricted ? version >= 8 : version >= 10
                var room = try TestRoom.standard(version: String(version), joinRule: rule)
                let label = "v\(version) \(rule)"
                XCTAssertAuthError(
                    known ? .authorisingUserCannotInvite : .joinRuleForbids(rule),
                    try room.member(User.bob, Membership.join), label)
                try room.member(User.bob, Membership.invite, by: User.alice)
                if known {
                    XCTAssertNoThrow(try room.member(User.bob, Membership.join), label)
                } else {
                    XCTAssertAuthError(.joinRuleForbids(rule), try room.member(User.bob, Membership.join), label)
                }
            }
        }
    }

    func testAuthorisedViaNeedsTheAuthorisingServersSignatureFromV8() throws {
        for version in 7...12 {
            var room = try TestRoom.standard(version: String(version), joinRule: JoinRule.invite)
            try room.member(User.bob, Membership.invite, by: User.alice)
            let content: JSONObject = ["join_authorised_via_users_server": .string(User.alice)]
            if version >= 8 {
                XCTAssertAuthError(
                    .authorisingServerNotSigned, try room.member(User.bob, Membership.join, content: content))
            } else {
                XCTAssertNoThrow(try room.member(User.bob, Membership.join, content: content), "v\(version)")
            }
        }
    }

    func testInvites() throws {
        for version in 1...12 {
            let label = "v\(version)"
            var room = try TestRoom.standard(version: String(version), levels: ["invite": 50])
            XCTAssertAuthError(
                .senderNotJoined(currentMembership: nil), try room.member(User.carol, Membership.invite, by: User.bob),
                label)
            try room.member(User.bob, Membership.join)
            XCTAssertAuthError(.insufficientPower, try room.member(User.carol, Membership.invite, by: User.bob), label)
            XCTAssertAuthError(.targetJoinedOrBanned, try room.member(User.bob, Membership.invite, by: User.mod), label)
            XCTAssertNoThrow(try room.member(User.carol, Membership.invite, by: User.mod), label)
            try room.member(User.carol, Membership.ban, by: User.alice)
            XCTAssertAuthError(.targetJoinedOrBanned, try room.member(User.carol, Membership.invite, by: User.mod), label)
        }
    }

    func testThirdPartyInvitesMustMatchTheirInviteEvent() throws {
        var room = try TestRoom.standard(version: "10")
        try room.send(
            EventType.thirdPartyInvite, from: User.alice, stateKey: "tok",
            content: ["display_name": "c...", "public_key": "AAAA"])
        let signed: JSONObject = ["mxid": .string(User.carol), "token": "tok", "signatures": ["id.test": ["ed25519:0": "c2ln"]]]
        let cases: [(JSONObject, AuthError)] = [
            (["display_name": "c"], .invalidThirdPartyInvite),
            (["signed": "x"], .invalidThirdPartyInvite),
            (["signed": .object(signed.removing("token"))], .invalidThirdPartyInvite),
            (["signed": .object(signed.removing("mxid"))], .invalidThirdPartyInvite),
            (["signed": ["mxid": .string(User.bob), "token": "tok"]], .invalidThirdPartyInvite),
            (["signed": ["mxid": .string(User.carol), "token": "other"]], .invalidThirdPartyInvite),
            (["signed": .object(signed)], .invalidThirdPartyInvite),  // the signature does not verify
        ]
        for (invite, expected) in cases {
            XCTAssertAuthError(
                expected, try room.member(User.carol, Membership.invite, by: User.alice, content: ["third_party_invite": .object(invite)]))
        }
        XCTAssertAuthError(
            .invalidThirdPartyInvite,
            try room.member(User.carol, Membership.invite, by: User.mod, content: ["third_party_invite": ["signed": .object(signed)]]),
            "sender differs from the invite event's sender")
        try room.member(User.carol, Membership.ban, by: User.alice)
        XCTAssertAuthError(
            .banned,
            try room.member(User.carol, Membership.invite, by: User.alice, content: ["third_party_invite": ["signed": .object(signed)]]))
    }

    func testKnocks() throws {
        for version in 1...12 {
            let label = "v\(version)"
            var room = try TestRoom.standard(version: String(version), joinRule: JoinRule.knock)
            guard version >= 7 else {
                XCTAssertAuthError(.unknownMembership(Membership.knock), try room.member(User.bob, Membership.knock), label)
                continue
            }
            XCTAssertAuthError(.senderIsNotTarget, try room.member(User.bob, Membership.knock, by: User.carol), label)
            XCTAssertNoThrow(try room.member(User.bob, Membership.knock), label)
            XCTAssertNoThrow(try room.member(User.bob, Membership.knock), "\(label): knock again")
            XCTAssertAuthError(
                .cannotKnock(currentMembership: Membership.join), try room.member(User.mod, Membership.knock), label)
            try room.member(User.carol, Membership.invite, by: User.alice)
            XCTAssertAuthError(
                .cannotKnock(currentMembership: Membership.invite), try room.member(User.carol, Membership.knock), label)
            try room.member(User.carol, Membership.ban, by: User.alice)
            XCTAssertAuthError(
                .cannotKnock(currentMembership: Membership.ban), try room.member(User.carol, Membership.knock), label)
        }
    }

    func testKnockNeedsAKnockJoinRule() throws {
        for version in 7...12 {
            for rule in [JoinRule.public, JoinRule.invite, JoinRule.restricted, JoinRule.knockRestricted] {
                var room = try TestRoom.standard(version: String(version), joinRule: rule)
                let label = "v\(version) \(rule)"
                if rule == JoinRule.knockRestricted, version >= 10 {
                    XCTAssertNoThrow(try room.member(User.bob, Membership.knock), label)
                } else {
                    XCTAssertAuthError(.joinRuleForbids(rule), try room.member(User.bob, Membership.knock), label)
                }
            }
        }
    }

    func testUnknownOrMissingMembership() throws {
        var room = try TestRoom.standard(version: "12")
        XCTAssertAuthError(.unknownMembership("visit"), try room.member(User.bob, "visit"))
        XCTAssertAuthError(
            .membershipMissing, try room.send(EventType.member, from: User.bob, stateKey: User.bob, content: ["displayname": "B"]))
        XCTAssertAuthError(
            .membershipMissing, try room.send(EventType.member, from: User.bob, stateKey: User.bob, content: ["membership": 1]))
        XCTAssertAuthError(.membershipMissing, try room.send(EventType.member, from: User.bob, content: ["membership": "join"]))
    }
}
