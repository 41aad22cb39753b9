import MatrixCore
import XCTest

/// Event types with rules of their own in some versions: `m.room.aliases` (v1–v5) and
/// `m.room.redaction` (v1–v2); elsewhere they, `m.room.history_visibility` and
/// `m.room.server_acl` follow the generic power-level rules.
final class AuthRulesSpecialEventsTests: XCTestCase {
    func testAliasesNeedTheSendersDomainAsStateKeyUntilV6() throws {
        for version in 1...12 {
            var room = try TestRoom.standard(version: String(version))
            let label = "v\(version)"
            if version <= 5 {
                XCTAssertNoThrow(try room.send(EventType.aliases, from: User.bob, stateKey: "b.test"), label)
                XCTAssertAuthError(
                    .aliasesNotSendersDomain, try room.send(EventType.aliases, from: User.bob, stateKey: "a.test"), label)
                XCTAssertAuthError(.aliasesNotSendersDomain, try room.send(EventType.aliases, from: User.bob), label)
            } else {
                XCTAssertAuthError(
                    .senderNotJoined(currentMembership: nil),
                    try room.send(EventType.aliases, from: User.bob, stateKey: "b.test"), label)
            }
        }
    }

    func testV1RedactionsNeedTheRedactLevelOrTheSameDomain() throws {
        for version in 1...4 {
            let label = "v\(version)"
            var room = try TestRoom.standard(version: String(version))
            try room.member(User.bob, Membership.join)
            let sameDomain = version <= 2 ? "$anything:b.test" : TestRoom.eventID(number: 1, version: room.version)
            let otherDomain = version <= 2 ? "$anything:a.test" : TestRoom.eventID(number: 2, version: room.version)
            var redactionOfOther = try room.event(
                type: EventType.redaction, sender: User.bob, stateKey: nil, content: [:], extra: ["redacts": .string(otherDomain)])
            if version <= 2 {
                var json = redactionOfOther.pdu.json
                json["event_id"] = "$r1:b.test"
                redactionOfOther = AuthEvent(eventID: "$r1:b.test", pdu: try PDU(json: json, roomVersion: room.version))
                XCTAssertAuthError(.redactionNotAllowed, try room.check(redactionOfOther), label)
                let own = try room.event(
                    type: EventType.redaction, sender: User.bob, stateKey: nil, content: [:], extra: ["redacts": .string(sameDomain)])
                var ownJSON = own.pdu.json
                ownJSON["event_id"] = "$r2:b.test"
                XCTAssertNoThrow(
                    try room.check(AuthEvent(eventID: "$r2:b.test", pdu: try PDU(json: ownJSON, roomVersion: room.version))), label)
                let byModerator = try room.event(
                    type: EventType.redaction, sender: User.mod, stateKey: nil, content: [:], extra: ["redacts": .string(otherDomain)])
                XCTAssertNoThrow(try room.check(byModerator), label)
            } else {
                XCTAssertNoThrow(try room.check(redactionOfOther), "\(label): no redaction rule from v3")
            }
        }
    }

    func testHistoryVisibilityAndServerACLAreOrdinaryStateEvents() throws {
        for version in [1, 10, 12] {
            var room = try TestRoom.standard(version: String(version), levels: ["events": ["m.room.server_acl": 100]])
            try room.member(User.bob, Membership.join)
            let acl: JSONObject = ["allow": ["*"], "deny": ["evil.test"]]
            XCTAssertAuthError(
                .insufficientPower, try room.send(EventType.historyVisibility, from: User.bob, stateKey: "", content: ["history_visibility": "joined"]))
            XCTAssertNoThrow(try room.send(EventType.historyVisibility, from: User.mod, stateKey: "", content: ["history_visibility": "joined"]))
            XCTAssertAuthError(.insufficientPower, try room.send(EventType.serverACL, from: User.mod, stateKey: "", content: acl))
            XCTAssertNoThrow(try room.send(EventType.serverACL, from: User.alice, stateKey: "", content: acl))
            XCTAssertFalse(ServerACL.allows("evil.test", aclContent: room.state[.serverACL]?.pdu.content))
        }
    }
}
