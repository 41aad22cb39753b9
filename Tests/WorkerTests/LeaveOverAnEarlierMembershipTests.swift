import Foundation
import MatrixCore
import RemoteHomeserver
import TestSupport
import Testing

/// A leave built on a membership that is no longer the member's — its template was made before the
/// homeserver kicked the member and let them join again — is refused over HTTP with nothing written:
/// its auth events admit it and the membership's value (`join`) is the same, but stored it would
/// not build on the current join, and the homeserver's next event for the member would conflict.
@Suite(.serialized)
struct LeaveOverAnEarlierMembershipTests {
    @Test func aTemplateMadeBeforeAKickAndARejoinIsRefused() async throws {
        let carol = HomeserverBridgeTests.carol
        let bridged = try await BridgedRoom(label: "rejoined")
        defer { bridged.stopWorker() }
        let (fixture, worker, room, homeserver) = (bridged.fixture, bridged.worker, bridged.room, bridged.homeserver)

        let remote = fixture.requester(worker)
        let template = try await remote.makeLeave(roomID: room.roomID, userID: carol)
        let body = try #require(template.json, "make_leave answered \(template.status)")
        let pushed = try await bridged.push { record in
            try record.append(["membership": "leave"], type: EventType.member, stateKey: carol, sender: room.adminUserID,
                              signer: fixture.resident)
            try record.append(["membership": "join"], type: EventType.member, stateKey: carol, sender: carol,
                              signer: fixture.remote.eventSigner)
        }
        #expect(pushed.status == 200, "\(String(describing: pushed.body))")
        let rejoin = try #require(await homeserver.rooms[room.roomID]?.events.last?.eventID)
        let before = try await fixture.members(room.roomID)
        #expect(before[carol] == "join")

        let leave = try fixture.remote.eventSigner.signLeave(makeLeaveResponse: body, roomID: room.roomID, userID: carol)
        let sent = try await remote.sendLeave(roomID: room.roomID, eventID: leave.eventID, pdu: leave.pdu)
        let answer = try JSONParser.parse(sent.body)
        #expect(sent.status == 403, "\(String(decoding: sent.body, as: UTF8.self))")
        #expect(answer["errcode"] == "M_FORBIDDEN")
        #expect(answer["error"]?.stringValue?.contains(rejoin) == true, "\(answer)")
        #expect(try await fixture.members(room.roomID) == before)

        // A template made now cites the rejoin, and its leave is stored.
        #expect(try await HomeserverBridgeTests.leave(carol, room: room.roomID, fixture: fixture, worker: worker) != leave.eventID)
        #expect(try await fixture.members(room.roomID)[carol] == "leave")
        await fixture.shutdown()
    }
}
