import Foundation
import MatrixCore
import XCTest

/// Identifiers, key IDs, state keys and JSON member names are compared byte for byte: strings that
/// Swift's `String ==` calls equal (Unicode canonical equivalence) are different identifiers. Each
/// kind of comparison is tried with equivalent-but-different pairs, and with a fullwidth letter
/// (not equivalent at all, so different under either rule).
final class BytewiseComparisonTests: XCTestCase {
    /// Canonically equivalent, different bytes.
    static let equivalentPairs: [(String, String)] = [
        ("K", "\u{212A}"),  // KELVIN SIGN
        ("\u{E9}", "e\u{301}"),  // é precomposed / e + COMBINING ACUTE ACCENT
        ("\u{3A9}", "\u{2126}"),  // GREEK CAPITAL OMEGA / OHM SIGN
        (";", "\u{37E}"),  // GREEK QUESTION MARK
    ]
    /// FULLWIDTH LATIN CAPITAL K: not equivalent to `K`.
    static let fullwidth = ("K", "\u{FF2B}")

    /// `template` with `#` replaced by each side of every pair, the fullwidth pair included.
    private func pairs(_ template: String) -> [(String, String)] {
        (Self.equivalentPairs + [Self.fullwidth]).map { left, right in
            (template.replacingOccurrences(of: "#", with: left), template.replacingOccurrences(of: "#", with: right))
        }
    }

    func testSwiftEqualityMergesThePairsBytesDoNot() {
        for (left, right) in Self.equivalentPairs {
            XCTAssertTrue(left == right, "the hazard: Swift calls \(left) and \(right) equal")
            XCTAssertFalse(left.bytesEqual(right))
            XCTAssertFalse(Optional(left).bytesEqual(right))
            XCTAssertFalse(("@" + right).bytesStart(with: "@" + left))
            XCTAssertNotEqual(ExactString(left), ExactString(right))
            XCTAssertEqual(Set([ExactString(left), ExactString(right)]).count, 2)
        }
        XCTAssertFalse(Self.fullwidth.0 == Self.fullwidth.1)
        XCTAssertFalse(Self.fullwidth.0.bytesEqual(Self.fullwidth.1))
        XCTAssertTrue("same".bytesEqual("same"[...]))
        // Both storage kinds: native contiguous UTF-8, and a bridged string without contiguous UTF-8.
        let event = "$event:remote.test"
        XCTAssertTrue(event.bytesEqual(String(("x" + event).dropFirst())))
        XCTAssertFalse(event.bytesEqual(event + "x"))
        XCTAssertFalse(event.bytesEqual(String(event.dropLast())))
        XCTAssertTrue(event.bytesEqual(NSString(string: event) as String))
        XCTAssertFalse(event.bytesEqual(NSString(string: event + "x") as String))
        XCTAssertTrue(ExactString("same") == "same")
        XCTAssertTrue(String?.none.bytesEqual(String?.none))
        XCTAssertFalse(Optional("x").bytesEqual(String?.none))
        // A combining mark after the prefix: `hasPrefix` says no (one Character), the bytes say yes.
        XCTAssertFalse("@\u{301}x".hasPrefix("@"))
        XCTAssertTrue("@\u{301}x".bytesStart(with: "@"))
    }

    func testIdentifierTypesCompareAndHashByBytes() throws {
        for (left, right) in pairs("$event#:remote.test") {
            let first = try XCTUnwrap(EventID(left)), second = try XCTUnwrap(EventID(right))
            XCTAssertNotEqual(first, second)
            XCTAssertEqual(Set([first, second]).count, 2)
        }
        for (left, right) in pairs("!room#:resident.test") {
            let first = try XCTUnwrap(RoomID(left)), second = try XCTUnwrap(RoomID(right))
            XCTAssertNotEqual(first, second)
            XCTAssertEqual(Set([first, second]).count, 2)
        }
        for (left, right) in pairs("@user#:remote.test") {
            let first = try XCTUnwrap(UserID(left)), second = try XCTUnwrap(UserID(right))
            XCTAssertNotEqual(first, second)
            XCTAssertEqual(Set([first, second]).count, 2)
        }
        XCTAssertEqual(EventID("$a:remote.test"), EventID("$a:remote.test"))
        XCTAssertNotEqual(ServerName("k.test"), ServerName("K.test"))
    }

    func testServerNamesAreASCIISoEquivalentFormsAreRefused() {
        for (_, right) in pairs("remote#.test") {
            XCTAssertNil(ServerName(right), right)
            XCTAssertNil(UserID("@user:" + right), right)
            XCTAssertNil(EventID("$event:" + right), right)
        }
    }

    func testIdentifiersAreSplitAtBytesNotCharacters() throws {
        // `:` + COMBINING ACUTE is one Character, yet its `:` byte is the first colon: the domain is
        // then "\u{301}x:remote.test", not a server name.
        XCTAssertNil(EventID("$abc:\u{301}x:remote.test"))
        XCTAssertNil(UserID("@abc:\u{301}x:remote.test"))
        XCTAssertNil(RoomID("!abc:\u{301}x:remote.test"))
        // A sigil followed by a combining mark is still the sigil.
        XCTAssertEqual(try XCTUnwrap(RoomID("!\u{301}abc:remote.test")).server, "remote.test")
        XCTAssertTrue(try XCTUnwrap(UserID("@\u{301}abc:remote.test")).localpart.bytesEqual("\u{301}abc"))
        XCTAssertTrue(RoomVersion.roomID(ofCreateEvent: "$\u{301}abc").bytesEqual("!\u{301}abc"))
    }

    func testStateKeysCompareAndHashByBytes() {
        for (left, right) in pairs("@user#:remote.test") {
            XCTAssertNotEqual(StateKey.member(left), StateKey.member(right))
            var state: [StateKey: Int] = [.member(left): 1]
            XCTAssertNil(state[.member(right)])
            state[.member(right)] = 2
            XCTAssertEqual(state.count, 2)
        }
        XCTAssertNotEqual(StateKey(type: "m.room.memberK", stateKey: ""), StateKey(type: "m.room.member\u{212A}", stateKey: ""))
    }

    func testJSONMembersAreKeyedByBytes() throws {
        for (left, right) in pairs("key#") {
            var object: JSONObject = [left: 1]
            XCTAssertNil(object[right])
            XCTAssertEqual(object[left], 1)
            object[right] = 2
            XCTAssertEqual(object.count, 2)
            let kept = object.keeping([ExactString(left)])
            XCTAssertEqual(kept.count, 1)
            XCTAssertTrue(try XCTUnwrap(kept.keys.first).bytesEqual(left))
            let text = "{\"\(left)\":1,\"\(right)\":2}"
            let parsed = try XCTUnwrap(try JSONParser.parse(Array(text.utf8)).objectValue, "not a duplicate key: \(text)")
            XCTAssertEqual(parsed[right], 2)
            XCTAssertNotEqual(JSONValue.string(left), JSONValue.string(right))
        }
    }

    func testAuthEventsAreFoundByTheirExactID() throws {
        var room = try TestRoom.standard(version: "1")
        let member = try XCTUnwrap(room.state[.member(User.mod)])
        var known = room.events
        known[ExactString("$K:a.test")] = member
        let cited = [try XCTUnwrap(room.state[.create]).eventID, try XCTUnwrap(room.state[.powerLevels]).eventID]
        func leave(citing id: String) throws -> PDU {
            try room.event(
                type: EventType.member, sender: User.mod, stateKey: User.mod, content: ["membership": "leave"],
                authEvents: cited + [id]
            ).pdu
        }
        XCTAssertNil(refusal { () throws(AuthError) in
            try AuthRules.check(try! leave(citing: "$K:a.test"), authEvents: known, signatures: NoSignatureVerifies())
        })
        let equivalent = try leave(citing: "$\u{212A}:a.test")
        XCTAssertAuthError(
            .missingAuthEvent("$\u{212A}:a.test"),
            try AuthRules.check(equivalent, authEvents: known, signatures: NoSignatureVerifies()))
    }

    func testSenderAndTargetAreDifferentUsersWhenTheirBytesDiffer() throws {
        let selection = AuthRules.authEventSelection(
            for: EventType.member, sender: "@K:b.test", stateKey: "@\u{212A}:b.test", content: ["membership": "leave"],
            version: try XCTUnwrap(RoomVersion("10")))
        XCTAssertEqual(selection, [.create, .powerLevels, .member("@K:b.test"), .member("@\u{212A}:b.test")])

        // A "leave" by a look-alike of a joined member is a kick by a non-member, not a self-leave.
        var room = try TestRoom.standard(version: "10")
        try room.member("@K:b.test", Membership.join)
        let lookAlike = try room.event(
            type: EventType.member, sender: "@\u{212A}:b.test", stateKey: "@K:b.test", content: ["membership": "leave"])
        XCTAssertThrowsError(try room.check(lookAlike))
        XCTAssertNoThrow(try room.member("@K:b.test", Membership.leave))
    }

    func testPrivilegedCreatorsAreMatchedByBytes() throws {
        var room = try TestRoom(version: "12", creator: "@K:a.test")
        try room.member("@K:a.test", Membership.join)
        try room.send(EventType.powerLevels, from: "@K:a.test", stateKey: "", content: TestRoom.powerLevels(room.version))
        try room.send(EventType.joinRules, from: "@K:a.test", stateKey: "", content: ["join_rule": "public"])
        try room.member("@\u{212A}:a.test", Membership.join)
        let byLookAlike = try room.event(
            type: EventType.powerLevels, sender: "@\u{212A}:a.test", stateKey: "", content: TestRoom.powerLevels(room.version))
        XCTAssertThrowsError(try room.check(byLookAlike))
        let byCreator = try room.event(
            type: EventType.powerLevels, sender: "@K:a.test", stateKey: "", content: TestRoom.powerLevels(room.version))
        XCTAssertNoThrow(try room.check(byCreator))
    }

    func testServerACLGlobsMatchBytesFoldingOnlyASCIICase() {
        XCTAssertTrue(ServerACL.allows("Remote.TEST", aclContent: ["allow": ["remote.test"]]))
        XCTAssertTrue(ServerACL.allows("k.test", aclContent: ["allow": ["K.test"]]))
        XCTAssertFalse(ServerACL.allows("k.test", aclContent: ["allow": ["\u{212A}.test"]]))
        XCTAssertFalse(ServerACL.allows("K.test", aclContent: ["allow": ["\u{212A}.test"]]))
        XCTAssertFalse(ServerACL.allows("k.test", aclContent: ["allow": ["\u{FF4B}.test"]]))
        XCTAssertTrue(ServerACL.allows("k.test", aclContent: ["allow": ["*"], "deny": ["\u{212A}.test"]]))
        XCTAssertTrue(ServerACL.allows("[::1]:8448", aclContent: ["allow": ["[::1]"]]))
        XCTAssertTrue(ServerACL.allows("k.test:8448", aclContent: ["allow": ["?.test"]]))
    }
}
