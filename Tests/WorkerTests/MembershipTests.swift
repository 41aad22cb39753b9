import Foundation
import MatrixCore
import MatrixCrypto
import RemoteHomeserver
import TestSupport
import Testing

/// Leaves from every membership a self-leave may start from: an invite rejected, a knock
/// rescinded (v7+), and a leave whose content hash does not match (stored redacted).
@Suite(.serialized)
struct MembershipTests {
    @Test func inviteRejectionAndKnockRetractionSucceed() async throws {
        let fixture = try await ResidentFixture()
        let worker = try await fixture.startWorker()
        defer { worker.stop() }
        let remote = fixture.requester(worker)
        for version in ["1", "6", "7", "10", "12"] {
            let knocks = RoomVersion(version)?.knock == true
            var members = [PlannedMember(userID: "@carol:remote.test", membership: .invite)]
            if knocks { members.append(PlannedMember(userID: "@dave:remote.test", membership: .knock)) }
            let room = try fixture.buildRoom(version: version, members: members, label: "memberships")
            try await fixture.importRoom(room)
            for member in members {
                let template = try await remote.makeLeave(roomID: room.roomID, userID: member.userID)
                #expect(template.status == 200, "v\(version) \(member.membership): \(String(decoding: template.body, as: UTF8.self))")
                let leave = try fixture.remote.eventSigner.signLeave(
                    makeLeaveResponse: try #require(template.json), roomID: room.roomID, userID: member.userID)
                let sent = try await remote.sendLeave(roomID: room.roomID, eventID: leave.eventID, pdu: leave.pdu)
                #expect(sent.status == 200, "v\(version) \(member.membership): \(String(decoding: sent.body, as: UTF8.self))")
                #expect(try await fixture.members(room.roomID)[member.userID] == "leave")
            }
        }
        await fixture.shutdown()
    }

    @Test func aLeaveWithAWrongContentHashIsStoredRedacted() async throws {
        let fixture = try await ResidentFixture()
        let worker = try await fixture.startWorker()
        defer { worker.stop() }
        let remote = fixture.requester(worker)
        let room = try fixture.buildRoom(version: "11", members: [PlannedMember(userID: "@bob:remote.test", membership: .join)])
        try await fixture.importRoom(room)
        let template = try await remote.makeLeave(roomID: room.roomID, userID: "@bob:remote.test")
        let leave = try fixture.remote.eventSigner.signLeave(
            makeLeaveResponse: try #require(template.json), roomID: room.roomID, userID: "@bob:remote.test")
        // A reason added after hashing: the signature (over the redacted form) still holds, the hash does not.
        var tampered = leave.pdu
        tampered["content"] = ["membership": "leave", "reason": "added in transit"]
        let sent = try await remote.sendLeave(roomID: room.roomID, eventID: leave.eventID, pdu: tampered)
        #expect(sent.status == 200, "\(String(decoding: sent.body, as: UTF8.self))")
        let stored = try #require(try await remote.event(id: leave.eventID).json?["pdus"]?.arrayValue?.first)
        #expect(stored["content"] == ["membership": "leave"])
        #expect(try await fixture.members(room.roomID)["@bob:remote.test"] == "leave")
        await fixture.shutdown()
    }
}
