import MatrixCore
import RemoteHomeserver
import TestSupport
import Testing

/// A member's signed leave at the version's largest depth (2^63−1 in v1–v5, 2^53−1 from v6) is
/// accepted, and the worker stays up: the next make_leave answers 200 with its depth capped at that
/// maximum, and the next members still leave. One past the maximum is refused and writes nothing.
@Suite(.serialized)
struct DepthLimitTests {
    static let users = ["@bob:remote.test", "@carol:remote.test", "@dave:remote.test"]

    @Test func makeLeaveAfterALeaveAtTheMaximumDepthCapsTheDepthAndTheRoomKeepsWorking() async throws {
        let fixture = try await ResidentFixture()
        let worker = try await fixture.startWorker()
        defer { worker.stop() }
        let remote = fixture.requester(worker)
        for version in ["1", "2", "3", "4", "5", "6", "10", "12"] {
            let room = try fixture.buildRoom(version: version, members: Self.users.map { PlannedMember(userID: $0, membership: .join) },
                                             label: "depth")
            try await fixture.importRoom(room)
            let maximum = room.version.maxDepth

            // One past the maximum (v6+ only: v1–v5 has no integer past it; canonical JSON cannot hash it,
            // so it is set after signing) is malformed, and nothing is written.
            if maximum < .max {
                let before = try await fixture.writtenRows(room.roomID)
                let signed = try RejectionTests.leave(room, by: fixture.remote.eventSigner)
                var tooDeep = signed.pdu
                tooDeep["depth"] = .integer(maximum + 1)
                let refused = try await remote.sendLeave(roomID: room.roomID, eventID: signed.eventID, pdu: tooDeep)
                #expect(refused.status == 400 && refused.errcode == "M_BAD_JSON", "v\(version): \(refused.status)")
                #expect(try await fixture.writtenRows(room.roomID) == before, "v\(version)")
            }

            // One below the maximum: the next template is exactly the maximum.
            let deep = try RejectionTests.leave(room, Self.users[0], by: fixture.remote.eventSigner) { $0["depth"] = .integer(maximum - 1) }
            let accepted = try await remote.sendLeave(roomID: room.roomID, eventID: deep.eventID, pdu: deep.pdu)
            #expect(accepted.status == 200, "v\(version): \(String(decoding: accepted.body, as: UTF8.self))")

            // Carol's template is at the maximum; she raises nothing, leaves there, and Dave's template stays capped.
            for user in Self.users.dropFirst() {
                let template = try await remote.makeLeave(roomID: room.roomID, userID: user)
                #expect(template.status == 200, "v\(version) \(user): \(String(decoding: template.body, as: UTF8.self))")
                let body = try #require(template.json)
                #expect(body["event"]?["depth"] == .integer(maximum), "v\(version) \(user)")
                let leave = try fixture.remote.eventSigner.signLeave(makeLeaveResponse: body, roomID: room.roomID, userID: user)
                let sent = try await remote.sendLeave(roomID: room.roomID, eventID: leave.eventID, pdu: leave.pdu)
                #expect(sent.status == 200, "v\(version) \(user): \(String(decoding: sent.body, as: UTF8.self))")
            }
            let members = try await fixture.members(room.roomID)
            #expect(Self.users.allSatisfy { members[$0] == "leave" }, "v\(version): \(members)")
        }
        await fixture.shutdown()
    }
}
