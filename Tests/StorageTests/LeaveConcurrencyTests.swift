import Postgres
import Storage
import TestSupport
import XCTest

/// Many leave transactions at once on several connections: per-room serialisation keeps one
/// consistent outcome per member, and the extremities consistent across members.
final class LeaveConcurrencyTests: XCTestCase {
    /// Result of one racing call, keeping errors as values so that none is lost.
    private enum Attempt: Sendable {
        case outcome(eventID: String, LeaveOutcome)
        case failure(String)
    }

    func testFiftyRacingLeavesOfOneMemberStoreExactlyOne() async throws {
        let pool = try await StorageFixture.migratedPool(prefix: "race_member", poolSize: 6)
        let store = RoomStore(pool: pool)
        var room = RoomBuilder(roomID: "!race:resident.test")
        room.join("@alice:resident.test")
        room.join("@bob:remote.test")
        _ = try await store.importRoom(roomID: room.roomID, version: room.version, events: room.events, state: room.stateRecords)
        let shared = room.leave("@bob:remote.test", id: "$bob-leave-shared", prevEvents: [room.lastEventID])
        // 25 calls with the same event, 25 with distinct events, interleaved.
        let leaves = (0..<50).map { index in
            index.isMultiple(of: 2) ? shared : room.leave("@bob:remote.test", id: "$bob-leave-\(index)", prevEvents: [room.lastEventID])
        }

        let attempts = await withTaskGroup(of: Attempt.self) { group in
            for leave in leaves {
                group.addTask {
                    do {
                        return .outcome(eventID: leave.eventID,
                                        try await store.storeLeave(leave, expectedMembership: "join"))
                    } catch {
                        return .failure("\(error)")
                    }
                }
            }
            return await group.reduce(into: [Attempt]()) { $0.append($1) }
        }

        var stored: [String] = []
        var replays = 0
        var refused = 0
        for attempt in attempts {
            switch attempt {
            case .failure(let error): XCTFail("a racing leave failed: \(error)")
            case .outcome(let eventID, .stored): stored.append(eventID)
            case .outcome(let eventID, .alreadyStored):
                XCTAssertEqual(eventID, shared.eventID, "only the shared event can be a replay")
                replays += 1
            case .outcome(_, .membershipChanged(let current)):
                XCTAssertEqual(current, "leave")
                refused += 1
            }
        }
        XCTAssertEqual(stored.count, 1, "exactly one leave wins: \(stored)")
        let winner = try XCTUnwrap(stored.first)
        if winner == shared.eventID {
            XCTAssertEqual(replays, 24)
            XCTAssertEqual(refused, 25)
        } else {
            XCTAssertEqual(replays, 0)
            XCTAssertEqual(refused, 49)
        }
        let membership = try await store.membership(roomID: room.roomID, userID: "@bob:remote.test")
        XCTAssertEqual(membership?.membership, "leave")
        XCTAssertEqual(membership?.eventID, winner)
        let leavesStored = try await StorageFixture.rows(pool, """
            SELECT event_id FROM events WHERE room_id = $1 AND state_key = '@bob:remote.test' AND membership = 'leave'
            """, [.text(room.roomID)])
        XCTAssertEqual(leavesStored, [[winner]])
        let state = try await store.currentStateEvents(roomID: room.roomID, keys: [("m.room.member", "@bob:remote.test")])
        XCTAssertEqual(state.map(\.eventID), [winner])
        let extremities = try await store.forwardExtremities(roomID: room.roomID, limit: 100)
        XCTAssertEqual(extremities.map(\.eventID), [winner])
        let backlog = try await ForwardingStore(pool: pool, serverName: "resident.test").backlog()
        XCTAssertEqual(backlog.events, 0, "the only other server with joined members is ours: no delivery")
        let servers = try await StorageFixture.rows(pool, "SELECT server_name, joined_members FROM room_joined_servers ORDER BY 1")
        XCTAssertEqual(servers, [["remote.test", "0"], ["resident.test", "1"]], "bob's server counted down once")
        let orphans = try await StorageFixture.orphans(pool)
        XCTAssertEqual(orphans, [])
        await pool.close()
    }

    func testTwoHundredConcurrentLeavesOfDifferentMembersAllStoreConsistently() async throws {
        let pool = try await StorageFixture.migratedPool(prefix: "race_room", poolSize: 6)
        let store = RoomStore(pool: pool)
        var room = RoomBuilder(roomID: "!crowd:resident.test")
        let members = (0..<200).map { "@m\($0):server\($0 % 5).test" }
        room.join("@alice:resident.test")
        for member in members { room.join(member) }
        _ = try await store.importRoom(roomID: room.roomID, version: room.version, events: room.events, state: room.stateRecords)
        let lastJoin = room.lastEventID
        let joined = room
        var stream = try await StorageFixture.listening(pool, watchdog: .seconds(30))
        defer { stream.stop() }

        let failures = await withTaskGroup(of: String?.self) { group in
            for (index, member) in members.enumerated() {
                group.addTask {
                    do {
                        // Half cite the extremities they read (as make_leave does), half a stale event: forks.
                        let prev = index.isMultiple(of: 2)
                            ? try await store.forwardExtremities(roomID: joined.roomID, limit: 20).map(\.eventID)
                            : [lastJoin]
                        let leave = joined.leave(member, id: "$leave-\(index)", prevEvents: prev)
                        let outcome = try await store.storeLeave(leave, expectedMembership: "join")
                        guard case .stored = outcome else { return "\(member): \(outcome)" }
                        return nil
                    } catch {
                        return "\(member): \(error)"
                    }
                }
            }
            return await group.reduce(into: [String]()) { if let failure = $1 { $0.append(failure) } }
        }
        XCTAssertEqual(failures, [])

        let memberships = try await store.members(roomID: room.roomID)
        XCTAssertEqual(memberships.count, 201)
        XCTAssertEqual(Set(memberships.filter { $0.userID != "@alice:resident.test" }.map(\.membership)), ["leave"])
        let uncited = try await StorageFixture.rows(pool, """
            SELECT event_id FROM events WHERE room_id = $1
            EXCEPT SELECT unnest(prev_events) FROM events WHERE room_id = $1 ORDER BY 1
            """, [.text(room.roomID)])
        let extremities = try await StorageFixture.rows(pool, "SELECT event_id FROM forward_extremities WHERE room_id = $1 ORDER BY 1",
                                                        [.text(room.roomID)])
        XCTAssertEqual(extremities, uncited, "forward extremities are exactly the events no event cites")
        XCTAssertTrue(extremities.allSatisfy { $0[0].hasPrefix("$leave-") })
        let servers = try await StorageFixture.rows(pool, "SELECT sum(joined_members) FROM room_joined_servers WHERE room_id = $1",
                                                    [.text(room.roomID)])
        XCTAssertEqual(servers, [["1"]], "only alice is still joined")
        let positions = try await StorageFixture.rows(pool, """
            SELECT count(DISTINCT stream_ordering) FROM events WHERE room_id = $1 AND event_id LIKE '$leave-%'
            """, [.text(room.roomID)])
        XCTAssertEqual(positions, [["200"]])
        // Coalesced wake-ups (StreamNotifier): however many, the last names the highest position.
        let highest = try await StorageFixture.rows(pool, "SELECT max(stream_ordering) FROM events")
        var announced: [Int64] = []
        while announced.last.map(String.init) != highest[0][0] {
            guard case .notification(let next)? = await stream.events.next() else {
                return XCTFail("the highest position \(highest) was never announced; got \(announced)")
            }
            announced.append(try XCTUnwrap(StreamNotification(payload: next.payload)).streamPosition)
        }
        XCTAssertLessThanOrEqual(announced.count, 201)
        let accepted = try await StorageFixture.rows(pool, "SELECT count(*) FROM events WHERE accepted")
        XCTAssertEqual(accepted, [["200"]])
        let orphans = try await StorageFixture.orphans(pool)
        XCTAssertEqual(orphans, [])
        await pool.close()
    }
}
