import Foundation
import Postgres
import Storage
import TestSupport
import XCTest

/// Each room version's vector room (Tests/Vectors/events.json): imported, read back exactly, then
/// the vector's `bob_leave` (as the resident stores it) goes through the leave transaction.
final class RoomVersionVectorTests: XCTestCase {
    /// One vector room: its events up to (not including) bob's leave, and the leave itself.
    private struct VectorRoom {
        let version: String
        let roomID: String
        let events: [EventRecord]
        let leave: EventRecord
    }

    private func vectorRooms() throws -> [VectorRoom] {
        let file = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(try Vectors.bytes("events"))) as? [String: Any])
        let versions = try XCTUnwrap(file["versions"] as? [String: Any])
        return try (1...12).map { number in
            let version = try XCTUnwrap(versions[String(number)] as? [String: Any])
            let roomID = try XCTUnwrap(version["room_id"] as? String)
            var events: [EventRecord] = []
            var leave: EventRecord?
            for entry in try XCTUnwrap(version["events"] as? [[String: Any]]) {
                let name = try XCTUnwrap(entry["name"] as? String)
                let pdu = try XCTUnwrap((entry["stored_pdu"] ?? entry["pdu"]) as? [String: Any])
                let record = try Self.record(pdu: pdu, eventID: try XCTUnwrap(entry["event_id"] as? String), roomID: roomID)
                if name == "bob_leave" { leave = record } else { events.append(record) }
            }
            return VectorRoom(version: String(number), roomID: roomID, events: events, leave: try XCTUnwrap(leave))
        }
    }

    /// The record a homeserver keeps of a vector PDU: IDs from either prev/auth format.
    private static func record(pdu: [String: Any], eventID: String, roomID: String) throws -> EventRecord {
        func ids(_ key: String) throws -> [String] {
            try XCTUnwrap(pdu[key] as? [Any]).map { entry in
                try XCTUnwrap((entry as? String) ?? ((entry as? [Any])?.first as? String))
            }
        }
        let content = pdu["content"] as? [String: Any]
        let bytes = try JSONSerialization.data(withJSONObject: pdu, options: [.sortedKeys, .withoutEscapingSlashes])
        return EventRecord(
            eventID: eventID, roomID: roomID, type: try XCTUnwrap(pdu["type"] as? String), stateKey: pdu["state_key"] as? String,
            sender: try XCTUnwrap(pdu["sender"] as? String), depth: try XCTUnwrap((pdu["depth"] as? NSNumber)?.int64Value),
            originServerTS: try XCTUnwrap((pdu["origin_server_ts"] as? NSNumber)?.int64Value),
            membership: pdu["type"] as? String == "m.room.member" ? content?["membership"] as? String : nil,
            prevEvents: try ids("prev_events"), authEvents: try ids("auth_events"), pdu: [UInt8](bytes))
    }

    /// The state after `events` applied in order, ordered by (type, state key).
    private static func state(after events: [EventRecord]) -> [EventRecord] {
        var state: [[String]: EventRecord] = [:]
        for event in events { if let key = event.stateKey { state[[event.type, key]] = event } }
        return state.values.sorted { ($0.type, $0.stateKey ?? "") < ($1.type, $1.stateKey ?? "") }
    }

    func testEveryRoomVersionStoresAndReadsBackExactly() async throws {
        let rooms = try vectorRooms()
        XCTAssertEqual(rooms.count, 12)
        // Versions 1–11 share a room ID in the vectors: a fresh database each keeps them apart.
        for room in rooms {
            let pool = try await StorageFixture.migratedPool(prefix: "version\(room.version)", poolSize: 2)
            let store = RoomStore(pool: pool)
            let state = Self.state(after: room.events)

            let summary = try await store.importRoom(roomID: room.roomID, version: room.version, events: room.events, state: state)
            XCTAssertEqual(summary, ImportSummary(imported: true, events: room.events.count, newEvents: room.events.count,
                                                  stateEvents: state.count, joinedMembers: 2, forwardExtremities: 1),
                           "v\(room.version)")
            let version = try await store.roomVersion(room.roomID)
            XCTAssertEqual(version, room.version)
            let readBack = try await store.events(roomID: room.roomID, ids: room.events.map(\.eventID))
            XCTAssertEqual(readBack, room.events, "v\(room.version): events read back exactly, in stream order")
            let currentState = try await store.currentState(roomID: room.roomID)
            XCTAssertEqual(currentState, state, "v\(room.version)")
            for event in room.events {
                let single = try await store.event(id: event.eventID)
                XCTAssertEqual(single, event)
            }
            let bob = try await store.membership(roomID: room.roomID, userID: "@bob:remote.test")
            XCTAssertEqual(bob?.membership, "join")

            let outcome = try await store.storeLeave(room.leave, expectedMembership: "join")
            guard case .stored = outcome else { return XCTFail("v\(room.version): \(outcome)") }
            let storedLeave = try await store.event(id: room.leave.eventID)
            XCTAssertEqual(storedLeave, room.leave, "v\(room.version): the stored leave reads back exactly")
            let members = try await store.members(roomID: room.roomID)
            XCTAssertEqual(members.first { $0.userID == "@bob:remote.test" }?.membership, "leave")
            let extremities = try await store.forwardExtremities(roomID: room.roomID, limit: 20)
            XCTAssertEqual(extremities.map(\.eventID), [room.leave.eventID], "v\(room.version)")
            await pool.close()
        }
    }
}
