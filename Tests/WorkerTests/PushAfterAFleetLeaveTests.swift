import Foundation
import MatrixCore
import RemoteHomeserver
import TestSupport
import Testing

/// A message a member sent before leaving through the fleet, reaching the homeserver after the
/// fleet accepted the leave, is pushed like any other event: its auth events admit it and it
/// changes no state, so the fleet's current state (the member has left) need not. It was refused
/// (400, "sender not in room") — and with it every later push citing it, whoever sent it: the
/// room's pushes stopped for good.
@Suite(.serialized)
struct PushAfterAFleetLeaveTests {
    @Test func aMessageSentBeforeAFleetLeaveIsPushedAndSoAreTheEventsCitingIt() async throws {
        let carol = HomeserverBridgeTests.carol
        let bridged = try await BridgedRoom(label: "late-message")
        let (fixture, worker, room, homeserver, internalURL) =
            (bridged.fixture, bridged.worker, bridged.room, bridged.homeserver, bridged.internalURL)
        defer { bridged.stopWorker() }

        _ = try await HomeserverBridgeTests.leave(carol, room: room.roomID, fixture: fixture, worker: worker)
        #expect(try await fixture.members(room.roomID)[carol] == "leave")

        // The homeserver has not applied the leave yet: carol's message, then the admin's, follow it.
        try await homeserver.update(room.roomID) { record in
            try record.append(["msgtype": "m.text", "body": "bye"], type: "m.room.message", stateKey: nil, sender: carol,
                              signer: fixture.remote.eventSigner)
        }
        let late = try await homeserver.push(room.roomID, to: internalURL)
        #expect(late.status == 200, "\(String(describing: late.body))")
        try await homeserver.update(room.roomID) { record in
            try record.append(["msgtype": "m.text", "body": "see you"], type: "m.room.message", stateKey: nil,
                              sender: room.adminUserID, signer: fixture.resident)
        }
        let next = try await homeserver.push(room.roomID, to: internalURL)
        #expect(next.status == 200, "\(String(describing: next.body))")
        #expect(next.body?["new_events"]?.integerValue == 1)
        #expect(try await fixture.members(room.roomID)[carol] == "leave", "a message changes no membership")
        await fixture.shutdown()
    }

    /// A ban made on the homeserver before it applied the member's fleet leave cites the member's old
    /// join: it supersedes the leave (as state resolution has it: a power event, after which the
    /// self-leave is not allowed) instead of conflicting with it. It was refused 409, and since the
    /// homeserver cannot rebuild another user's event, so was every later push of the room.
    @Test func aBanMadeBeforeTheHomeserverAppliedAFleetLeaveSupersedesIt() async throws {
        let carol = HomeserverBridgeTests.carol
        let bridged = try await BridgedRoom(label: "late-ban")
        let (fixture, worker, room, homeserver, internalURL) =
            (bridged.fixture, bridged.worker, bridged.room, bridged.homeserver, bridged.internalURL)
        defer { bridged.stopWorker() }

        _ = try await HomeserverBridgeTests.leave(carol, room: room.roomID, fixture: fixture, worker: worker)
        try await homeserver.update(room.roomID) { record in
            try record.append(["membership": "ban"], type: EventType.member, stateKey: carol, sender: room.adminUserID,
                              signer: fixture.resident)
        }
        let banned = try await homeserver.push(room.roomID, to: internalURL)
        #expect(banned.status == 200, "\(String(describing: banned.body))")
        #expect(try await fixture.members(room.roomID)[carol] == "ban")
        await fixture.shutdown()
    }

    /// A state event other than a membership — here a topic — that a member with the power to set
    /// it sent before leaving through the fleet goes in like a message: checked against its own
    /// auth events (the member was joined there), not the current state (where the member has
    /// left). It was refused 400, and with it every later push citing it.
    @Test func aTopicSetBeforeAFleetLeaveIsPushed() async throws {
        let carol = HomeserverBridgeTests.carol
        let bridged = try await BridgedRoom(label: "late-topic")
        let (fixture, worker, room, homeserver, internalURL) =
            (bridged.fixture, bridged.worker, bridged.room, bridged.homeserver, bridged.internalURL)
        defer { bridged.stopWorker() }
        try await homeserver.update(room.roomID) { record in
            let levels: JSONObject = [
                "users": [room.adminUserID: 100, carol: 50], "users_default": 0, "events": [:], "events_default": 0,
                "state_default": 50, "ban": 50, "kick": 50, "redact": 50, "invite": 0,
            ]
            try record.append(levels, type: EventType.powerLevels, stateKey: "", sender: room.adminUserID, signer: fixture.resident)
        }
        let raised = try await homeserver.push(room.roomID, to: internalURL)
        #expect(raised.status == 200, "\(String(describing: raised.body))")

        _ = try await HomeserverBridgeTests.leave(carol, room: room.roomID, fixture: fixture, worker: worker)
        try await homeserver.update(room.roomID) { record in
            try record.append(["topic": "moving on"], type: "m.room.topic", stateKey: "", sender: carol,
                              signer: fixture.remote.eventSigner)
        }
        let topic = try await homeserver.push(room.roomID, to: internalURL)
        #expect(topic.status == 200, "\(String(describing: topic.body))")
        #expect(try await fixture.members(room.roomID)[carol] == "leave")
        await fixture.shutdown()
    }
}
