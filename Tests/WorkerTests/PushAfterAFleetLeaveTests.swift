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
    static let carol = HomeserverBridgeTests.carol

    @Test func aMessageSentBeforeAFleetLeaveIsPushedAndSoAreTheEventsCitingIt() async throws {
        let bridged = try await BridgedRoom(label: "late-message")
        defer { bridged.stopWorker() }
        let (fixture, room) = (bridged.fixture, bridged.room)
        try await bridged.leaveThroughTheFleet(Self.carol)
        #expect(try await fixture.members(room.roomID)[Self.carol] == "leave")

        // The homeserver has not applied the leave yet: carol's message, then the admin's, follow it.
        let late = try await bridged.push { record in
            try record.append(["msgtype": "m.text", "body": "bye"], type: "m.room.message", stateKey: nil, sender: Self.carol,
                              signer: fixture.remote.eventSigner)
        }
        #expect(late.status == 200, "\(String(describing: late.body))")
        let next = try await bridged.push { record in
            try record.append(["msgtype": "m.text", "body": "see you"], type: "m.room.message", stateKey: nil,
                              sender: room.adminUserID, signer: fixture.resident)
        }
        #expect(next.status == 200, "\(String(describing: next.body))")
        #expect(next.body?["new_events"]?.integerValue == 1)
        #expect(try await fixture.members(room.roomID)[Self.carol] == "leave", "a message changes no membership")
        await fixture.shutdown()
    }

    /// A ban made on the homeserver before it applied the member's fleet leave cites the member's old
    /// join: it supersedes the leave (as state resolution has it: a power event, after which the
    /// self-leave is not allowed) instead of conflicting with it. It was refused 409, and since the
    /// homeserver cannot rebuild another user's event, so was every later push of the room.
    @Test func aBanMadeBeforeTheHomeserverAppliedAFleetLeaveSupersedesIt() async throws {
        let bridged = try await BridgedRoom(label: "late-ban")
        defer { bridged.stopWorker() }
        let (fixture, room) = (bridged.fixture, bridged.room)
        try await bridged.leaveThroughTheFleet(Self.carol)
        let banned = try await bridged.push { record in
            try record.append(["membership": "ban"], type: EventType.member, stateKey: Self.carol, sender: room.adminUserID,
                              signer: fixture.resident)
        }
        #expect(banned.status == 200, "\(String(describing: banned.body))")
        #expect(try await fixture.members(room.roomID)[Self.carol] == "ban")
        await fixture.shutdown()
    }

    /// A state event other than a membership — here a topic — that a member with the power to set
    /// it sent before leaving through the fleet goes in like a message: checked against its own
    /// auth events (the member was joined there), not the current state (where the member has
    /// left). It was refused 400, and with it every later push citing it.
    @Test func aTopicSetBeforeAFleetLeaveIsPushed() async throws {
        let bridged = try await BridgedRoom(label: "late-topic")
        defer { bridged.stopWorker() }
        let (fixture, room) = (bridged.fixture, bridged.room)
        let raised = try await bridged.push { record in
            let levels: JSONObject = [
                "users": [room.adminUserID: 100, Self.carol: 50], "users_default": 0, "events": [:], "events_default": 0,
                "state_default": 50, "ban": 50, "kick": 50, "redact": 50, "invite": 0,
            ]
            try record.append(levels, type: EventType.powerLevels, stateKey: "", sender: room.adminUserID, signer: fixture.resident)
        }
        #expect(raised.status == 200, "\(String(describing: raised.body))")
        try await bridged.leaveThroughTheFleet(Self.carol)
        let topic = try await bridged.push { record in
            try record.append(["topic": "moving on"], type: "m.room.topic", stateKey: "", sender: Self.carol,
                              signer: fixture.remote.eventSigner)
        }
        #expect(topic.status == 200, "\(String(describing: topic.body))")
        #expect(try await fixture.members(room.roomID)[Self.carol] == "leave")
        await fixture.shutdown()
    }
}
