import Foundation
import Postgres
import Storage
import Synchronization
import TestSupport
import XCTest

/// Leaves per second through `RoomStore.storeLeave` and `PostgresPool`, on one connection and on a
/// pool (printed, not asserted; sql/README.md "Measurements"). Runs briefly in the suite; for figures:
///   LEAVE_WORKER_STORAGE_BENCH_SECONDS=15 swift test -c release --filter LeaveThroughputTests
final class LeaveThroughputTests: XCTestCase {
    private static let rooms = 10

    /// Hands out members to the racing tasks.
    private final class Counter: Sendable {
        let next = Atomic<Int>(0)
    }

    private static func user(room: Int, member: Int) -> String { "@u\(member)-r\(room):remote\(member % 7).test" }

    private static func record(room: Int, id: String, member: Int, membership: String, prev: [String], depth: Int64) -> EventRecord {
        let user = user(room: room, member: member)
        let pdu = #"{"content":{"membership":"\#(membership)"},"padding":"\#(String(repeating: "x", count: 900))"}"#
        return EventRecord(eventID: id, roomID: "!r\(room):bench.test", type: "m.room.member", stateKey: user, sender: user,
                           depth: depth, originServerTS: 1_700_000_000_000, membership: membership, prevEvents: prev,
                           authEvents: prev, pdu: Array(pdu.utf8))
    }

    private func measure(poolSize: Int, tasks: Int, seconds: Double) async throws {
        // Enough joined members for 3,000 leaves/s; fewer end the run early (the rate stays right).
        let membersPerRoom = max(100, Int(seconds * 300))
        let pool = try await StorageFixture.migratedPool(prefix: "throughput", poolSize: poolSize)
        let store = RoomStore(pool: pool)
        for room in 0..<Self.rooms {
            let roomID = "!r\(room):bench.test"
            let create = EventRecord(eventID: "$create\(room)", roomID: roomID, type: "m.room.create", stateKey: "",
                                     sender: "@c:bench.test", depth: 1, originServerTS: 1, membership: nil, prevEvents: [],
                                     authEvents: [], pdu: Array("{}".utf8))
            let joins = (0..<membersPerRoom).map {
                Self.record(room: room, id: "$join\(room)-\($0)", member: $0, membership: "join", prev: [create.eventID], depth: 2)
            }
            _ = try await store.importRoom(roomID: roomID, version: "10", events: [create] + joins, state: [create] + joins)
        }

        let counter = Counter()
        // The last 7 members of a room (one per server) stay: every leave then still has all 6 other
        // remote servers joined, whichever order the racing tasks store them in.
        let total = Self.rooms * (membersPerRoom - 7)
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(seconds)
        let started = clock.now
        let stored = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<tasks {
                group.addTask {
                    var count = 0
                    while clock.now < deadline {
                        let index = counter.next.add(1, ordering: .relaxed).oldValue
                        guard index < total else { break }
                        let room = index % Self.rooms, member = index / Self.rooms
                        let leave = Self.record(room: room, id: "$leave\(room)-\(member)", member: member, membership: "leave",
                                                prev: ["$join\(room)-\(member)"], depth: 3)
                        let outcome = try await store.storeLeave(leave, expectedMembership: "join")
                        guard case .stored = outcome else { throw StorageError.malformedRow("leave not stored: \(outcome)") }
                        count += 1
                    }
                    return count
                }
            }
            return try await group.reduce(0, +)
        }
        let elapsed = clock.now - started
        let rate = Double(stored) / (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
        print("storeLeave: pool \(poolSize), \(tasks) tasks: \(stored) leaves in \(elapsed) = \(Int(rate)) tx/s")

        XCTAssertGreaterThan(stored, 0)
        let left = try await StorageFixture.rows(pool, "SELECT count(*) FROM memberships WHERE membership = 'leave'")
        XCTAssertEqual(left, [[String(stored)]], "every stored leave changed exactly one membership")
        let backlog = try await ForwardingStore(pool: pool, serverName: "bench.test").backlog()
        XCTAssertEqual(backlog.events, stored * 6, "each leave is due to the 6 other remote servers")
        await pool.close()
    }

    private var seconds: Double {
        ProcessInfo.processInfo.environment["LEAVE_WORKER_STORAGE_BENCH_SECONDS"].flatMap(Double.init) ?? 2
    }

    func testOneConnection() async throws {
        try await measure(poolSize: 1, tasks: 1, seconds: seconds)
    }

    func testPoolOfEightWithSixteenTasks() async throws {
        try await measure(poolSize: 8, tasks: 16, seconds: seconds)
    }
}
