import Foundation
import MatrixCore
import MatrixCrypto
import RemoteHomeserver
import TestSupport
import Testing

/// Every kind of bad `send_leave` / `make_leave` a remote server can send gets the contract's
/// status and errcode — never a 500 — and writes nothing.
@Suite(.serialized)
struct RejectionTests {
    /// One refused request: what is sent and what must come back.
    struct Case {
        let name: String
        let status: Int
        let errcode: String
        let send: () async throws -> FederationResponse
    }

    static let bob = "@bob:remote.test"

    /// A leave of `user` built from the room's template, changed by `mutate`, then hashed and
    /// signed by `signer` (the remote server by default) — so only the mutation is wrong.
    static func leave(_ room: BuiltRoom, _ user: String = bob, by signer: EventSigner,
                      _ mutate: (inout JSONObject) -> Void = { _ in }) throws -> SignedEvent {
        var event = room.leaveTemplate(userID: user, originServerTS: Int64(Date().timeIntervalSince1970 * 1000))
        if room.version.eventIDFormat == .explicit { event["event_id"] = .string("$leave-\(UUID().uuidString):remote.test") }
        mutate(&event)
        return try signer.hashAndSign(event, version: room.version)
    }

    @Test func badSendLeaveRequestsAreRefusedAndWriteNothing() async throws {
        let fixture = try await ResidentFixture(remoteNames: ["remote.test", "evil.test"])
        let worker = try await fixture.startWorker()
        defer { worker.stop() }
        let remote = fixture.requester(worker)
        let signer = fixture.remote.eventSigner
        let evil = fixture.remotes[1].eventSigner
        let room = try fixture.buildRoom(version: "10", members: [
            PlannedMember(userID: Self.bob, membership: .join),
            PlannedMember(userID: "@frank:remote.test", membership: .ban),
            PlannedMember(userID: "@gone:remote.test", membership: .leave),
        ], label: "rejections")
        try await fixture.importRoom(room)
        let roomID = room.roomID
        let good = try Self.leave(room, by: signer)
        func send(_ event: SignedEvent, eventID: String? = nil, roomPath: String? = nil) async throws -> FederationResponse {
            try await remote.sendLeave(roomID: roomPath ?? roomID, eventID: eventID ?? event.eventID, pdu: event.pdu)
        }
        func send(pdu: JSONObject, eventID: String) async throws -> FederationResponse {
            try await remote.sendLeave(roomID: roomID, eventID: eventID, pdu: pdu)
        }
        func raw(_ bytes: [UInt8], signedAs: JSONValue?) async throws -> FederationResponse {
            try await remote.request(
                method: "PUT", path: FederationRequester.sendLeavePath(roomID: roomID, eventID: good.eventID, version: .v2),
                body: .raw(bytes, signedAs: signedAs))
        }
        let goodText = String(decoding: good.pdu.compactBytes(), as: UTF8.self)
        let otherAuth = try #require(room.state[.joinRules])

        let cases: [Case] = [
            Case(name: "body not JSON", status: 400, errcode: "M_NOT_JSON") { try await raw(Array("nope".utf8), signedAs: nil) },
            Case(name: "body a JSON array", status: 400, errcode: "M_NOT_JSON") { try await raw(Array("[1]".utf8), signedAs: [1]) },
            Case(name: "duplicate key", status: 400, errcode: "M_BAD_JSON") {
                try await raw(Array(("{\"depth\":1," + goodText.dropFirst()).utf8), signedAs: .object(good.pdu))
            },
            Case(name: "body over 65536 bytes", status: 413, errcode: "M_TOO_LARGE") {
                try await raw(Array(("{\"pad\":\"" + String(repeating: "x", count: 70_000) + "\"}").utf8), signedAs: nil)
            },
            Case(name: "float in content", status: 400, errcode: "M_BAD_JSON") {
                try await raw(Array(goodText.replacingOccurrences(of: "\"membership\":\"leave\"", with: "\"membership\":\"leave\",\"x\":1.5").utf8), signedAs: nil)
            },
            Case(name: "integer beyond 2^53 (v6+)", status: 400, errcode: "M_BAD_JSON") {
                let text = goodText.replacingOccurrences(of: "\"membership\":\"leave\"", with: "\"membership\":\"leave\",\"n\":1152921504606846976")
                return try await raw(Array(text.utf8), signedAs: try JSONParser.parse(text))
            },
            Case(name: "room_id differs from the path", status: 400, errcode: "M_BAD_JSON") {
                try await send(try Self.leave(room, by: signer) { $0["room_id"] = "!other:resident.test" })
            },
            Case(name: "event ID differs from the path", status: 400, errcode: "M_BAD_JSON") {
                try await send(good, eventID: "$notTheRightIDnotTheRightIDnotTheRightID000")
            },
            Case(name: "not a member event", status: 400, errcode: "M_BAD_JSON") {
                try await send(try Self.leave(room, by: signer) { $0["type"] = "m.room.topic" })
            },
            Case(name: "not a state event", status: 400, errcode: "M_BAD_JSON") {
                try await send(try Self.leave(room, by: signer) { $0["state_key"] = nil })
            },
            Case(name: "membership is not leave", status: 400, errcode: "M_BAD_JSON") {
                try await send(try Self.leave(room, by: signer) { $0["content"] = ["membership": "join"] })
            },
            Case(name: "state_key differs from sender", status: 400, errcode: "M_BAD_JSON") {
                try await send(try Self.leave(room, by: signer) { $0["state_key"] = "@carol:remote.test" })
            },
            Case(name: "sender not on the requesting server", status: 403, errcode: "M_FORBIDDEN") {
                try await send(try Self.leave(room, "@eve:evil.test", by: evil))
            },
            Case(name: "signature missing", status: 403, errcode: "M_FORBIDDEN") {
                var unsigned = good.pdu
                unsigned["signatures"] = .object(JSONObject())
                return try await send(pdu: unsigned, eventID: good.eventID)
            },
            Case(name: "signature by another key", status: 403, errcode: "M_FORBIDDEN") {
                let forger = EventSigner(serverName: "remote.test", key: try SigningKey.generate(version: "k1"))
                return try await send(try Self.leave(room, by: forger))
            },
            Case(name: "auth event of a kind a leave may not cite", status: 403, errcode: "M_FORBIDDEN") {
                try await send(try Self.leave(room, by: signer) { event in
                    event["auth_events"] = .array((event["auth_events"]?.arrayValue ?? []) + [.string(otherAuth)])
                })
            },
            Case(name: "auth event unknown", status: 403, errcode: "M_FORBIDDEN") {
                try await send(try Self.leave(room, by: signer) { event in
                    event["auth_events"] = .array((event["auth_events"]?.arrayValue ?? []).dropLast() + ["$unknownunknownunknownunknownunknownunknown0"])
                })
            },
            Case(name: "prev event unknown", status: 403, errcode: "M_FORBIDDEN") {
                try await send(try Self.leave(room, by: signer) { $0["prev_events"] = ["$unknownunknownunknownunknownunknownunknown0"] })
            },
            Case(name: "banned user", status: 403, errcode: "M_FORBIDDEN") {
                try await send(try Self.leave(room, "@frank:remote.test", by: signer))
            },
            Case(name: "user who already left", status: 403, errcode: "M_FORBIDDEN") {
                try await send(try Self.leave(room, "@gone:remote.test", by: signer))
            },
            Case(name: "user never in the room", status: 403, errcode: "M_FORBIDDEN") {
                try await send(try Self.leave(room, "@nobody:remote.test", by: signer) { event in
                    event["auth_events"] = .array((event["auth_events"]?.arrayValue ?? []).prefix(2).map { $0 })
                })
            },
            Case(name: "unknown room", status: 404, errcode: "M_NOT_FOUND") {
                try await send(try Self.leave(room, by: signer) { $0["room_id"] = "!unknown:resident.test" }, roomPath: "!unknown:resident.test")
            },
            Case(name: "no Authorization header", status: 401, errcode: "M_UNAUTHORIZED") {
                try await remote.request(method: "PUT", path: FederationRequester.sendLeavePath(roomID: roomID, eventID: good.eventID, version: .v2),
                                         body: .json(.object(good.pdu)), authorization: .none)
            },
            Case(name: "request signed for another body", status: 401, errcode: "M_UNAUTHORIZED") {
                try await raw(good.pdu.compactBytes(), signedAs: ["other": "body"])
            },
        ]

        let before = try await fixture.writtenRows(roomID)
        for check in cases {
            let response = try await check.send()
            #expect(response.status == check.status, "\(check.name): \(response.status) \(String(decoding: response.body, as: UTF8.self))")
            #expect(response.errcode == check.errcode, "\(check.name): \(response.errcode ?? "no errcode")")
            #expect(try await fixture.writtenRows(roomID) == before, "\(check.name) wrote rows")
        }
        #expect(try await fixture.members(roomID)[Self.bob] == "join")

        // After all that, the good leave still goes through.
        let accepted = try await send(good)
        #expect(accepted.status == 200, "\(String(decoding: accepted.body, as: UTF8.self))")
        #expect(try await fixture.members(roomID)[Self.bob] == "leave")
        await fixture.shutdown()
    }

    @Test func makeLeaveRefusals() async throws {
        let fixture = try await ResidentFixture(remoteNames: ["remote.test", "evil.test"])
        let worker = try await fixture.startWorker()
        defer { worker.stop() }
        let remote = fixture.requester(worker)
        let room = try fixture.buildRoom(version: "9", members: [
            PlannedMember(userID: Self.bob, membership: .join),
            PlannedMember(userID: "@frank:remote.test", membership: .ban),
            PlannedMember(userID: "@gone:remote.test", membership: .leave),
        ], label: "make-leave")
        try await fixture.importRoom(room)
        let acl: JSONObject = ["allow": ["*"], "deny": ["evil.test"], "allow_ip_literals": false]
        let aclRoom = try fixture.buildRoom(version: "9", members: [
            PlannedMember(userID: "@eve:evil.test", membership: .join),
        ], serverACL: acl, label: "acl")
        try await fixture.importRoom(aclRoom)
        let evil = fixture.requester(worker, remote: 1)

        let cases: [(String, FederationRequester, String, String, Int, String)] = [
            ("user not on the requesting server", remote, room.roomID, "@eve:evil.test", 403, "M_FORBIDDEN"),
            ("unknown room", remote, "!unknown:resident.test", Self.bob, 404, "M_NOT_FOUND"),
            ("banned", remote, room.roomID, "@frank:remote.test", 403, "M_FORBIDDEN"),
            ("already left", remote, room.roomID, "@gone:remote.test", 403, "M_FORBIDDEN"),
            ("never in the room", remote, room.roomID, "@nobody:remote.test", 403, "M_FORBIDDEN"),
            ("denied by the server ACL", evil, aclRoom.roomID, "@eve:evil.test", 403, "M_FORBIDDEN"),
        ]
        for (name, requester, roomID, user, status, errcode) in cases {
            let response = try await requester.makeLeave(roomID: roomID, userID: user)
            #expect(response.status == status, "\(name): \(String(decoding: response.body, as: UTF8.self))")
            #expect(response.errcode == errcode, "\(name)")
        }

        // The ACL also refuses send_leave from the denied server, even for a well-formed leave.
        let denied = try Self.leave(aclRoom, "@eve:evil.test", by: fixture.remotes[1].eventSigner)
        let response = try await evil.sendLeave(roomID: aclRoom.roomID, eventID: denied.eventID, pdu: denied.pdu)
        #expect(response.status == 403)
        #expect(response.errcode == "M_FORBIDDEN")
        #expect(try await fixture.members(aclRoom.roomID)["@eve:evil.test"] == "join")
        await fixture.shutdown()
    }

    /// Identifiers in the path with a NUL byte (`%00`), which no stored row can hold (Postgres
    /// `text` cannot): an unknown room, an unknown event, a user not of the origin — answered as
    /// such, not 503 "retry" from a statement Postgres refused.
    @Test func pathIdentifiersWithANulByteAreRefusedAsUnknown() async throws {
        let fixture = try await ResidentFixture()
        let worker = try await fixture.startWorker()
        defer { worker.stop() }
        let remote = fixture.requester(worker)
        let room = try fixture.buildRoom(version: "10", members: [PlannedMember(userID: Self.bob, membership: .join)], label: "nul")
        try await fixture.importRoom(room)
        let template = try await remote.makeLeave(roomID: room.roomID, userID: Self.bob)
        let leave = try fixture.remote.eventSigner.signLeave(makeLeaveResponse: try #require(template.json), roomID: room.roomID,
                                                             userID: Self.bob)
        let nulRoom = room.roomID.replacingOccurrences(of: ":", with: "\u{0}:")
        let answers = [
            ("make_leave, room", try await remote.makeLeave(roomID: nulRoom, userID: Self.bob), 404, "M_NOT_FOUND"),
            ("make_leave, user", try await remote.makeLeave(roomID: room.roomID, userID: "@b\u{0}ob:remote.test"), 403, "M_FORBIDDEN"),
            ("send_leave, room", try await remote.sendLeave(roomID: nulRoom, eventID: leave.eventID, pdu: leave.pdu), 404, "M_NOT_FOUND"),
            ("event", try await remote.event(id: leave.eventID + "\u{0}"), 404, "M_NOT_FOUND"),
        ]
        for (name, response, status, errcode) in answers {
            #expect(response.status == status, "\(name): \(String(decoding: response.body, as: UTF8.self))")
            #expect(response.errcode == errcode, "\(name)")
        }
        #expect(try await fixture.members(room.roomID)[Self.bob] == "join")
        await fixture.shutdown()
    }
}
