import MatrixCore
import XCTest

/// Signature checks that never succeed: for rules where no signature may count (the positive
/// signature paths are tested with real Ed25519 keys in MatrixCryptoEventTests).
struct NoSignatureVerifies: AuthSignatureVerifier {
    func isEvent(_ event: PDU, signedBy server: String) -> Bool { false }
    func isThirdPartyInviteSigned(_ signed: JSONObject, publicKeys: [String]) -> Bool { false }
}

/// A room built event by event for auth-rule tests. Events are real PDUs in the version's format;
/// their hashes and signatures are placeholders (the auth rules never read them) and their IDs
/// are numbered in the version's event-ID format.
struct TestRoom {
    let version: RoomVersion
    let roomID: String
    private(set) var events: [ExactString: AuthEvent] = [:]
    private(set) var state: [StateKey: AuthEvent] = [:]
    private(set) var lastEventID: String
    private var counter = 0

    /// A room whose create event is sent by `creator` (v1–v10 also get `content.creator`).
    init(version id: String, creator: String = "@alice:a.test", createContent: JSONObject = [:]) throws {
        version = try XCTUnwrap(RoomVersion(id))
        let createID = TestRoom.eventID(number: 0, version: version)
        roomID = version.roomIDFromCreateEvent ? "!" + createID.dropFirst() : "!room:a.test"
        lastEventID = createID
        var content = createContent
        content["room_version"] = .string(id)
        if !version.authRules.creatorIsSender, content["creator"] == nil { content["creator"] = .string(creator) }
        let create = try event(
            type: EventType.create, sender: creator, stateKey: "", content: content, authEvents: [], prevEvents: [])
        try AuthRules.check(create.pdu, authEvents: events, signatures: NoSignatureVerifies())
        accept(create)
    }

    static func eventID(number: Int, version: RoomVersion) -> String {
        let digits = String(number)
        switch version.eventIDFormat {
        case .explicit: return "$e\(digits):a.test"
        case .base64, .urlSafeBase64: return "$" + String(repeating: "0", count: 43 - digits.count) + digits
        }
    }

    /// The next event, not yet checked or accepted. `authEvents` defaults to the auth events
    /// selection against the current state, `prevEvents` to the last accepted event.
    mutating func event(
        type: String, sender: String, stateKey: String?, content: JSONObject,
        authEvents: [String]? = nil, prevEvents: [String]? = nil, extra: JSONObject = [:]
    ) throws -> AuthEvent {
        let id = TestRoom.eventID(number: counter, version: version)
        counter += 1
        let cited = authEvents ?? AuthRules.authEventSelection(
            for: type, sender: sender, stateKey: stateKey, content: content, version: version
        ).compactMap { state[$0]?.eventID }
        var json = extra
        json["type"] = .string(type)
        json["sender"] = .string(sender)
        if !(version.roomIDFromCreateEvent && type == EventType.create) { json["room_id"] = .string(roomID) }
        if let stateKey { json["state_key"] = .string(stateKey) }
        json["content"] = .object(content)
        json["origin_server_ts"] = .integer(1_700_000_000_000 + Int64(counter))
        json["depth"] = .integer(Int64(counter))
        json["prev_events"] = .array((prevEvents ?? [lastEventID]).map(reference))
        json["auth_events"] = .array(cited.map(reference))
        json["hashes"] = ["sha256": "placeholder"]
        json["signatures"] = [:]
        if version.eventIDFormat == .explicit { json["event_id"] = .string(id) }
        return AuthEvent(eventID: id, pdu: try PDU(json: json, roomVersion: version))
    }

    private func reference(_ id: String) -> JSONValue {
        version.referenceFormat == .pairs ? [.string(id), ["sha256": "placeholder"]] : .string(id)
    }

    /// Adds an accepted event to the room (and to its state if it is a state event).
    mutating func accept(_ event: AuthEvent) {
        events[ExactString(event.eventID)] = event
        if let key = event.pdu.stateKeyPair { state[key] = event }
        lastEventID = event.eventID
    }

    /// Checks `event` against its auth events and against the current state; the first refusal
    /// is thrown. Both checks must agree.
    func check(_ event: AuthEvent, signatures: some AuthSignatureVerifier = NoSignatureVerifies()) throws {
        let againstAuthEvents = refusal { () throws(AuthError) in
            try AuthRules.check(event.pdu, authEvents: events, signatures: signatures)
        }
        let againstState = refusal { () throws(AuthError) in
            try AuthRules.check(event.pdu, against: state, signatures: signatures)
        }
        XCTAssertEqual(againstAuthEvents, againstState, "auth-events and state verdicts differ")
        if let againstAuthEvents { throw againstAuthEvents }
    }

    /// Builds, checks and accepts an event; throws the auth rules' refusal.
    @discardableResult
    mutating func send(
        _ type: String, from sender: String, stateKey: String? = nil, content: JSONObject = [:],
        signatures: some AuthSignatureVerifier = NoSignatureVerifies()
    ) throws -> AuthEvent {
        let next = try event(type: type, sender: sender, stateKey: stateKey, content: content)
        try check(next, signatures: signatures)
        accept(next)
        return next
    }

    /// Sends an `m.room.member` event with `membership`.
    @discardableResult
    mutating func member(
        _ target: String, _ membership: String, by sender: String? = nil, content: JSONObject = [:],
        signatures: some AuthSignatureVerifier = NoSignatureVerifies()
    ) throws -> AuthEvent {
        var content = content
        content["membership"] = .string(membership)
        return try send(
            EventType.member, from: sender ?? target, stateKey: target, content: content, signatures: signatures)
    }
}

/// The users of the test rooms.
enum User {
    static let alice = "@alice:a.test"  // creator, power 100 (v12: infinite)
    static let mod = "@mod:a.test"  // power 50
    static let bob = "@bob:b.test"
    static let carol = "@carol:b.test"
}

extension TestRoom {
    /// Default power levels: alice 100 (not listed in v12, where she is a creator), mod 50.
    static func powerLevels(_ version: RoomVersion, _ extra: JSONObject = [:]) -> JSONObject {
        var users: JSONObject = [User.mod: 50]
        if !version.authRules.privilegedCreators { users[User.alice] = 100 }
        var content: JSONObject = [
            "users": .object(users), "users_default": 0, "events": ["m.room.power_levels": 100], "events_default": 0,
            "state_default": 50, "ban": 50, "kick": 50, "redact": 50, "invite": 0,
        ]
        for member in extra.members { content[member.key] = member.value }
        return content
    }

    /// A room where alice created and joined and set power levels (plus `levels`), the mod
    /// joined while it was public, then alice set `joinRule`.
    static func standard(version id: String, joinRule: String = JoinRule.public, levels: JSONObject = [:]) throws
        -> TestRoom
    {
        var room = try TestRoom(version: id)
        try room.member(User.alice, Membership.join)
        try room.send(EventType.powerLevels, from: User.alice, stateKey: "", content: powerLevels(room.version, levels))
        try room.send(EventType.joinRules, from: User.alice, stateKey: "", content: ["join_rule": "public"])
        try room.member(User.mod, Membership.join)
        if joinRule != JoinRule.public {
            try room.send(EventType.joinRules, from: User.alice, stateKey: "", content: ["join_rule": .string(joinRule)])
        }
        return room
    }
}

/// The error `body` throws, or `nil` if it passes.
func refusal(_ body: () throws(AuthError) -> Void) -> AuthError? {
    do {
        try body()
        return nil
    } catch {
        return error
    }
}

/// Asserts that `body` throws exactly `expected`.
func XCTAssertAuthError(
    _ expected: AuthError, _ body: @autoclosure () throws -> some Any, _ message: @autoclosure () -> String = "",
    file: StaticString = #filePath, line: UInt = #line
) {
    XCTAssertThrowsError(try body(), message(), file: file, line: line) { error in
        XCTAssertEqual(error as? AuthError, expected, message(), file: file, line: line)
    }
}

final class AuthRulesTestRoomTests: XCTestCase {
    func testSelectionForASelfLeaveIsCreatePowerLevelsAndOwnMember() throws {
        for id in ["1", "6", "11", "12"] {
            let version = try XCTUnwrap(RoomVersion(id))
            let keys = AuthRules.authEventSelection(
                for: EventType.member, sender: "@bob:b.test", stateKey: "@bob:b.test",
                content: ["membership": "leave"], version: version)
            let expected: [StateKey] = [.powerLevels, .member("@bob:b.test")]
            XCTAssertEqual(keys, (version.createEventInAuthEvents ? [.create] : []) + expected, "v\(id)")
        }
    }

    func testSelectionForMemberEventsAddsTargetJoinRulesInviteTokenAndAuthorisingUser() throws {
        let v10 = try XCTUnwrap(RoomVersion("10"))
        let invite = AuthRules.authEventSelection(
            for: EventType.member, sender: "@alice:a.test", stateKey: "@bob:b.test",
            content: ["membership": "invite", "third_party_invite": ["signed": ["token": "tok"]]], version: v10)
        XCTAssertEqual(
            invite,
            [.create, .powerLevels, .member("@alice:a.test"), .member("@bob:b.test"), .joinRules,
             .thirdPartyInvite(token: "tok")])
        let join = AuthRules.authEventSelection(
            for: EventType.member, sender: "@bob:b.test", stateKey: "@bob:b.test",
            content: ["membership": "join", "join_authorised_via_users_server": "@alice:a.test"], version: v10)
        XCTAssertEqual(join, [.create, .powerLevels, .member("@bob:b.test"), .joinRules, .member("@alice:a.test")])
        let v7 = try XCTUnwrap(RoomVersion("7"))
        let oldJoin = AuthRules.authEventSelection(
            for: EventType.member, sender: "@bob:b.test", stateKey: "@bob:b.test",
            content: ["membership": "join", "join_authorised_via_users_server": "@carol:a.test"], version: v7)
        XCTAssertEqual(oldJoin, [.create, .powerLevels, .member("@bob:b.test"), .joinRules])
    }

    func testSelectionForCreateIsEmptyAndForMessagesHasNoMemberExtras() throws {
        let v3 = try XCTUnwrap(RoomVersion("3"))
        XCTAssertEqual(
            AuthRules.authEventSelection(for: EventType.create, sender: "@a:a.test", stateKey: "", content: [:], version: v3),
            [])
        XCTAssertEqual(
            AuthRules.authEventSelection(for: "m.room.message", sender: "@a:a.test", stateKey: nil, content: [:], version: v3),
            [.create, .powerLevels, .member("@a:a.test")])
    }

    func testBuiltRoomCitesTheSelectedEvents() throws {
        var room = try TestRoom(version: "10")
        let join = try room.member("@alice:a.test", Membership.join)
        let leave = try room.event(
            type: EventType.member, sender: "@alice:a.test", stateKey: "@alice:a.test", content: ["membership": "leave"])
        XCTAssertEqual(leave.pdu.authEventIDs, [try XCTUnwrap(room.state[.create]).eventID, join.eventID])
    }
}
