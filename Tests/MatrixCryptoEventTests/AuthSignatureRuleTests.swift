import MatrixCore
import MatrixCrypto
import XCTest

/// The auth rules that depend on signatures, with real Ed25519 keys: restricted joins
/// (`join_authorised_via_users_server`, v8+) and third-party invites. Events are added to the
/// v10 vector room, hashed and signed like real events.
final class AuthSignatureRuleTests: XCTestCase {
    private static let erin = "@erin:remote.test"
    private static let alice = "@alice:resident.test"

    /// The v10 vector room, growing event by event.
    private struct Room {
        let version: RoomVersion
        let roomID: String
        var events: [ExactString: AuthEvent]
        var state: [StateKey: AuthEvent]
        var last: String
        let keys: [String: (keyID: String, key: Ed25519PrivateKey)]
        let verifier: KeyedAuthSignatures

        init() throws {
            let vectors = try XCTUnwrap(try VectorRoom.all().first { $0.version.id == "10" })
            version = vectors.version
            roomID = vectors.roomID
            events = try vectors.authEvents()
            state = try vectors.currentState()
            last = try XCTUnwrap(vectors.events.last).eventID
            keys = try vectorSigningKeys()
            verifier = KeyedAuthSignatures(vectorKeys: try vectorServerKeys())
        }

        /// A hashed event signed by `signers`, citing the auth events selection from the state.
        func event(_ type: String, sender: String, stateKey: String, content: JSONObject, signers: [String]) throws
            -> AuthEvent
        {
            let auth = AuthRules.authEventSelection(
                for: type, sender: sender, stateKey: stateKey, content: content, version: version
            ).compactMap { state[$0]?.eventID }
            var json: JSONObject = [
                "type": .string(type), "sender": .string(sender), "state_key": .string(stateKey), "room_id": .string(roomID),
                "content": .object(content), "origin_server_ts": 1_700_000_100_000, "depth": 20,
                "prev_events": [.string(last)], "auth_events": .array(auth.map(JSONValue.string)),
            ]
            json["hashes"] = ["sha256": .string(Base64.encodeUnpadded(try EventHashing.contentHash(of: json, version: version)))]
            let message = try EventHashing.redactedSigningBytes(of: json, version: version)
            var signatures = JSONObject()
            for server in signers {
                let signer = try XCTUnwrap(keys[server])
                signatures[server] = [signer.keyID: .string(Base64.encodeUnpadded(signer.key.signature(for: message)))]
            }
            json["signatures"] = .object(signatures)
            let pdu = try PDU(json: json, roomVersion: version)
            return AuthEvent(eventID: try EventHashing.eventID(of: json, version: version), pdu: pdu)
        }

        func check(_ event: AuthEvent) throws {
            try AuthRules.check(event.pdu, authEvents: events, signatures: verifier)
            try AuthRules.check(event.pdu, against: state, signatures: verifier)
        }

        mutating func accept(_ event: AuthEvent) throws {
            try check(event)
            events[ExactString(event.eventID)] = event
            if let key = event.pdu.stateKeyPair { state[key] = event }
            last = event.eventID
        }
    }

    private func restrictedRoom() throws -> Room {
        var room = try Room()
        try room.accept(
            try room.event(
                EventType.joinRules, sender: Self.alice, stateKey: "",
                content: ["join_rule": "restricted", "allow": [["type": "m.room_membership", "room_id": "!space:resident.test"]]],
                signers: ["resident.test"]))
        return room
    }

    func testRestrictedJoinAuthorisedBySignedResidentUser() throws {
        var room = try restrictedRoom()
        let content: JSONObject = ["membership": "join", "join_authorised_via_users_server": .string(Self.alice)]
        let join = try room.event(
            EventType.member, sender: Self.erin, stateKey: Self.erin, content: content, signers: ["remote.test", "resident.test"])
        XCTAssertTrue(join.pdu.authEventIDs.contains(try XCTUnwrap(room.state[.member(Self.alice)]).eventID))
        XCTAssertNoThrow(try room.accept(join))
    }

    func testRestrictedJoinWithoutTheAuthorisingServersSignature() throws {
        let room = try restrictedRoom()
        let content: JSONObject = ["membership": "join", "join_authorised_via_users_server": .string(Self.alice)]
        let unsigned = try room.event(EventType.member, sender: Self.erin, stateKey: Self.erin, content: content, signers: ["remote.test"])
        XCTAssertEqual(Result { try room.check(unsigned) }.error as? AuthError, .authorisingServerNotSigned)
        let wrongSigner = try room.event(
            EventType.member, sender: Self.erin, stateKey: Self.erin, content: content, signers: ["remote.test", "evil.test"])
        XCTAssertEqual(Result { try room.check(wrongSigner) }.error as? AuthError, .authorisingServerNotSigned)
    }

    func testRestrictedJoinAuthorisedBySomeoneWhoCannotInvite() throws {
        let room = try restrictedRoom()
        let viaBob: JSONObject = ["membership": "join", "join_authorised_via_users_server": "@bob:remote.test"]
        let join = try room.event(EventType.member, sender: Self.erin, stateKey: Self.erin, content: viaBob, signers: ["remote.test"])
        XCTAssertEqual(Result { try room.check(join) }.error as? AuthError, .authorisingUserCannotInvite, "bob has left the room")
    }

    private func thirdPartyInvite(signedBy signer: Ed25519PrivateKey, publishing keys: JSONObject) throws -> (Room, AuthEvent) {
        var room = try Room()
        try room.accept(
            try room.event(
                EventType.thirdPartyInvite, sender: Self.alice, stateKey: "tok",
                content: keys.merging(["display_name": "e...@example.org"]), signers: ["resident.test"]))
        var signed: JSONObject = ["mxid": .string(Self.erin), "token": "tok"]
        let signature = signer.signature(for: try signed.canonicalBytes())
        signed["signatures"] = ["id.example.org": ["ed25519:0": .string(Base64.encodeUnpadded(signature))]]
        let invite = try room.event(
            EventType.member, sender: Self.alice, stateKey: Self.erin,
            content: ["membership": "invite", "third_party_invite": ["display_name": "e...", "signed": .object(signed)]],
            signers: ["resident.test"])
        return (room, invite)
    }

    func testThirdPartyInviteSignedByThePublishedKey() throws {
        let identity = try XCTUnwrap(try vectorSigningKeys()["notary.test"]).key
        let published = JSONValue.string(Base64.encodeUnpadded(identity.publicKey.bytes))
        var (room, invite) = try thirdPartyInvite(signedBy: identity, publishing: ["public_key": published])
        XCTAssertTrue(invite.pdu.authEventIDs.contains(try XCTUnwrap(room.state[.thirdPartyInvite(token: "tok")]).eventID))
        XCTAssertNoThrow(try room.accept(invite))
        let (listRoom, listInvite) = try thirdPartyInvite(
            signedBy: identity, publishing: ["public_key": "AAAA", "public_keys": [["public_key": published]]])
        XCTAssertNoThrow(try listRoom.check(listInvite))
    }

    func testThirdPartyInviteSignedByAnotherKey() throws {
        let keys = try vectorSigningKeys()
        let published = JSONValue.string(Base64.encodeUnpadded(try XCTUnwrap(keys["notary.test"]).key.publicKey.bytes))
        let (room, invite) = try thirdPartyInvite(
            signedBy: try XCTUnwrap(keys["evil.test"]).key, publishing: ["public_keys": [["public_key": published]]])
        XCTAssertEqual(Result { try room.check(invite) }.error as? AuthError, .invalidThirdPartyInvite)
    }
}

extension JSONObject {
    /// A copy with the members of `other` added (replacing equal keys).
    func merging(_ other: JSONObject) -> JSONObject {
        var copy = self
        for member in other.members { copy[member.key] = member.value }
        return copy
    }
}
