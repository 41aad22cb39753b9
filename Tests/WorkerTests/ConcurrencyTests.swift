import Foundation
import MatrixCore
import RemoteHomeserver
import TestSupport
import Testing

/// Two worker processes sharing one Postgres: the same member's leave raced on both, and many
/// members leaving at once across both — no 5xx, nothing lost, state consistent.
@Suite(.serialized)
struct ConcurrencyTests {
    @Test func twoWorkersShareOneDatabase() async throws {
        let fixture = try await ResidentFixture()
        let first = try await fixture.startWorker()
        defer { first.stop() }
        let second = try await fixture.startWorker()
        defer { second.stop() }
        let requesters = [fixture.requester(first), fixture.requester(second)]
        let leavers = PlannedMember.generate(count: 60, membership: .join, servers: ["remote.test"], localpartPrefix: "m")
        let stayer = "@stay:remote.test"
        let room = try fixture.buildRoom(
            version: "10", members: leavers + [PlannedMember(userID: stayer, membership: .join)], label: "concurrent")
        try await fixture.importRoom(room)
        let signer = fixture.remote.eventSigner

        // The same member's leave, sent to both workers at once, ten times over: one is stored;
        // every answer is 200 (stored or replayed) — never a 5xx.
        let racer = leavers[0].userID
        let template = try await requesters[0].makeLeave(roomID: room.roomID, userID: racer)
        let leave = try signer.signLeave(makeLeaveResponse: try #require(template.json), roomID: room.roomID, userID: racer)
        let raced = try await withThrowingTaskGroup(of: Int.self) { group in
            for index in 0..<10 {
                group.addTask { try await requesters[index % 2].sendLeave(roomID: room.roomID, eventID: leave.eventID, pdu: leave.pdu).status }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(raced.allSatisfy { $0 == 200 }, "\(raced)")

        // Every other member leaves concurrently, alternating workers (make_leave, sign, send_leave).
        let statuses = try await withThrowingTaskGroup(of: [Int].self) { group in
            for (index, member) in leavers.dropFirst().enumerated() {
                let requester = requesters[index % 2]
                group.addTask {
                    let made = try await requester.makeLeave(roomID: room.roomID, userID: member.userID)
                    guard made.status == 200, let body = made.json else { return [made.status] }
                    let event = try signer.signLeave(makeLeaveResponse: body, roomID: room.roomID, userID: member.userID)
                    let sent = try await requester.sendLeave(roomID: room.roomID, eventID: event.eventID, pdu: event.pdu)
                    return [made.status, sent.status]
                }
            }
            return try await group.reduce(into: []) { $0.append(contentsOf: $1) }
        }
        #expect(statuses.allSatisfy { $0 == 200 }, "\(statuses.filter { $0 != 200 })")
        let members = try await fixture.members(room.roomID)
        for member in leavers { #expect(members[member.userID] == "leave", "\(member.userID)") }

        // The forward extremities are exactly the stored events that no other event cites.
        let (extremities, uncited) = try await fixture.pool.withConnection { connection in
            let extremities = try connection.query(
                "SELECT event_id FROM forward_extremities WHERE room_id = $1 ORDER BY 1", [.text(room.roomID)])
            let uncited = try connection.query("""
                SELECT e.event_id FROM events e WHERE e.room_id = $1 AND NOT EXISTS (
                    SELECT 1 FROM events c WHERE c.room_id = e.room_id AND e.event_id = ANY (c.prev_events))
                ORDER BY 1
                """, [.text(room.roomID)])
            return (extremities.rows.compactMap { $0.string(0) }, uncited.rows.compactMap { $0.string(0) })
        }
        #expect(!extremities.isEmpty)
        #expect(extremities == uncited)

        // The next make_leave cites every current extremity (up to 20), joining the branches.
        let next = try await requesters[1].makeLeave(roomID: room.roomID, userID: stayer)
        #expect(next.status == 200)
        let cited = (next.json?["event"]?["prev_events"]?.arrayValue ?? []).compactMap(\.stringValue).sorted()
        #expect(cited == Array(extremities.prefix(20)).sorted() || (extremities.count > 20 && cited.count == 20))
        await fixture.shutdown()
    }
}
