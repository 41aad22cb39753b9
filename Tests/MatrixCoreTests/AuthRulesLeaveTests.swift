import MatrixCore
import XCTest

/// Leaving: the self-leave rule exactly, for every room version and every current membership;
/// kicks, unbans and bans (leave/ban sent by someone else).
final class AuthRulesLeaveTests: XCTestCase {
    /// A room where bob's current membership is `membership` (`nil`: no member event). The member
    /// event is placed directly, so that even memberships a version cannot create (knock before
    /// v7) can be tested.
    private func room(_ version: Int, bob membership: String?) throws -> TestRoom {
        var room = try TestRoom.standard(version: String(version))
        if let membership {
            let sender = membership == Membership.ban ? User.alice : User.bob
            room.accept(
                try room.event(
                    type: EventType.member, sender: sender, stateKey: User.bob,
                    content: ["membership": .string(membership)]))
        }
        return room
    }

    func testSelfLeaveFromEachMembershipInEachVersion() throws {
        for version in 1...12 {
            for membership in [Membership.join, Membership.invite, Membership.knock, Membership.ban, Membership.leave, nil] {
                var room = try room(version, bob: membership)
                let label = "v\(version) from \(membership ?? "no membership")"
                let allowed =
                    membership == Membership.join || membership == Membership.invite
                    || (membership == Membership.knock && version >= 7)
                if allowed {
                    XCTAssertNoThrow(try room.member(User.bob, Membership.leave), label)
                } else {
                    XCTAssertAuthError(
                        .cannotLeave(currentMembership: membership), try room.member(User.bob, Membership.leave), label)
                }
            }
        }
    }

    func testSelfLeaveIgnoresPowerLevels() throws {
        for version in [1, 9, 10, 12] {
            var room = try TestRoom.standard(
                version: String(version), levels: ["kick": 100, "events": ["m.room.member": 100], "users_default": -5])
            try room.member(User.bob, Membership.join)
            XCTAssertNoThrow(try room.member(User.bob, Membership.leave), "v\(version)")
        }
    }

    func testAuthorisedViaOnALeaveNeedsTheSignatureFromV8() throws {
        for version in [7, 8, 12] {
            var room = try room(version, bob: Membership.join)
            let content: JSONObject = ["join_authorised_via_users_server": .string(User.alice)]
            if version >= 8 {
                XCTAssertAuthError(
                    .authorisingServerNotSigned, try room.member(User.bob, Membership.leave, content: content))
            } else {
                XCTAssertNoThrow(try room.member(User.bob, Membership.leave, content: content))
            }
        }
    }

    func testKicks() throws {
        for version in 1...12 {
            let label = "v\(version)"
            var room = try room(version, bob: Membership.join)
            try room.member(User.carol, Membership.join)
            XCTAssertAuthError(.insufficientPower, try room.member(User.bob, Membership.leave, by: User.carol), label)
            XCTAssertAuthError(.insufficientPower, try room.member(User.alice, Membership.leave, by: User.mod), label)
            XCTAssertNoThrow(try room.member(User.bob, Membership.leave, by: User.mod), label)
            XCTAssertAuthError(
                .senderNotJoined(currentMembership: Membership.leave),
                try room.member(User.carol, Membership.leave, by: User.bob), label)
            XCTAssertNoThrow(try room.member(User.mod, Membership.leave, by: User.alice), label)
        }
    }

    func testUnbanNeedsKickAndBanLevels() throws {
        for version in [1, 6, 10, 12] {
            var room = try TestRoom.standard(version: String(version), levels: ["ban": 60, "kick": 50])
            try room.member(User.bob, Membership.ban, by: User.alice)
            XCTAssertAuthError(.insufficientPower, try room.member(User.bob, Membership.leave, by: User.mod))
            XCTAssertNoThrow(try room.member(User.bob, Membership.leave, by: User.alice), "v\(version)")
        }
    }

    func testBans() throws {
        for version in 1...12 {
            let label = "v\(version)"
            var room = try room(version, bob: Membership.join)
            XCTAssertAuthError(.insufficientPower, try room.member(User.mod, Membership.ban, by: User.bob), label)
            XCTAssertAuthError(
                .senderNotJoined(currentMembership: nil), try room.member(User.bob, Membership.ban, by: User.carol), label)
            XCTAssertAuthError(.insufficientPower, try room.member(User.alice, Membership.ban, by: User.mod), label)
            XCTAssertNoThrow(try room.member(User.carol, Membership.ban, by: User.mod), "\(label): ban a stranger")
            XCTAssertNoThrow(try room.member(User.bob, Membership.ban, by: User.mod), label)
        }
    }
}
