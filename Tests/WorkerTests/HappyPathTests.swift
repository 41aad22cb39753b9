import Foundation
import MatrixCore
import MatrixCrypto
import RemoteHomeserver
import TestSupport
import Testing

/// The successful path first, for every room version: import a room whose members live on a
/// simulated remote server, then make_leave → sign → send_leave against a real worker process,
/// and check what was stored.
@Suite(.serialized)
struct HappyPathTests {
    @Test func makeLeaveSignSendLeaveSucceedsInEveryRoomVersion() async throws {
        let fixture = try await ResidentFixture()
        let worker = try await fixture.startWorker()
        defer { worker.stop() }
        let remote = fixture.requester(worker)
        for version in RoomVersion.supported.map(\.id) {
            let bob = "@bob:remote.test"
            let room = try fixture.buildRoom(version: version, members: [PlannedMember(userID: bob, membership: .join)])
            try await fixture.importRoom(room)

            let template = try await remote.makeLeave(roomID: room.roomID, userID: bob)
            #expect(template.status == 200, "v\(version) make_leave: \(template.status) \(String(decoding: template.body, as: UTF8.self))")
            let body = try #require(template.json)
            #expect(body["room_version"]?.stringValue == version)
            #expect(body["event"]?["prev_events"]?.arrayValue?.count == 1)

            let leave = try fixture.remote.eventSigner.signLeave(makeLeaveResponse: body, roomID: room.roomID, userID: bob)
            let sent = try await remote.sendLeave(roomID: room.roomID, eventID: leave.eventID, pdu: leave.pdu)
            #expect(sent.status == 200, "v\(version) send_leave: \(String(decoding: sent.body, as: UTF8.self))")
            #expect(sent.json == .object(JSONObject()))
            #expect(try await fixture.members(room.roomID)[bob] == "leave", "v\(version)")

            // The stored event carries both signatures, and both verify.
            let fetched = try await remote.event(id: leave.eventID)
            #expect(fetched.status == 200)
            let stored = try #require(fetched.json?["pdus"]?.arrayValue?.first?.objectValue)
            let redacted = Redaction.redact(stored, version: try #require(RoomVersion(version)))
            #expect(JSONSigning.verify(redacted, entity: "resident.test", keyID: fixture.residentKey.keyID,
                                       publicKey: fixture.residentKey.publicKey), "v\(version)")
            #expect(JSONSigning.verify(redacted, entity: "remote.test", keyID: fixture.remote.signingKey.keyID,
                                       publicKey: fixture.remote.signingKey.publicKey), "v\(version)")
            #expect(try EventHashing.eventID(of: stored, version: try #require(RoomVersion(version))) == leave.eventID)

            // The deprecated v1 endpoint answers [200, {}]; a replay stores nothing twice.
            let before = try await fixture.writtenRows(room.roomID)
            let replay = try await remote.sendLeave(roomID: room.roomID, eventID: leave.eventID, pdu: leave.pdu, version: .v1)
            #expect(replay.status == 200)
            #expect(replay.json == [200, .object(JSONObject())])
            #expect(try await fixture.writtenRows(room.roomID) == before, "v\(version) replay wrote rows")
        }
        await fixture.shutdown()
    }
}
