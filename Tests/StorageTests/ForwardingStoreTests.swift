import Postgres
import Storage
import TestSupport
import XCTest

/// Who receives an accepted leave, claims with a lease, positions, back-off, and what accepting
/// writes (the same rows whatever the number of servers in the room).
final class ForwardingStoreTests: XCTestCase {
    private var pool: PostgresPool!
    private var rooms: RoomStore!
    private var forwarding: ForwardingStore!
    private var room = RoomBuilder(roomID: "!fwd:resident.test")

    override func setUp() async throws {
        pool = try await StorageFixture.migratedPool(prefix: "forwarding")
        rooms = RoomStore(pool: pool)
        forwarding = ForwardingStore(pool: pool, serverName: "resident.test")
        room.join("@admin:resident.test")
        for index in 0..<3 { room.join("@m\(index):a.test") }
        room.join("@bob:b.test")
        room.join("@carol:c.test")
        _ = try await rooms.importRoom(roomID: room.roomID, version: room.version, events: room.events, state: room.stateRecords)
    }

    override func tearDown() async throws {
        await pool.close()
    }

    private func leave(_ userID: String, in room: RoomBuilder? = nil) async throws -> EventRecord {
        let room = room ?? self.room
        let leave = room.leave(userID, id: "$leave-\(userID)-\(room.roomID)", prevEvents: [room.lastEventID])
        let outcome = try await rooms.storeLeave(leave, expectedMembership: "join")
        guard case .stored = outcome else { throw StorageError.malformedRow("not stored: \(outcome)") }
        return leave
    }

    /// Claims up to the stream's safe point, as the sender does.
    private func claim(_ destination: String, limit: Int, lease: Duration) async throws -> ForwardingBatch? {
        try await forwarding.claim(destination: destination, limit: limit, lease: lease, safe: rooms.horizon.safePosition())
    }

    private func claimedEventIDs(_ destination: String) async throws -> [String]? {
        try await claim(destination, limit: 50, lease: .seconds(60))?.events.map(\.eventID)
    }

    /// Every server with a joined member after the leave, minus us and the leave's origin — and a
    /// server whose last member left after the leave still gets it.
    func testALeaveIsDueToTheOtherServersNotUsNorItsOrigin() async throws {
        let first = try await leave("@m0:a.test")
        let carols = try await leave("@carol:c.test")   // c.test's last member: it still gets m0's leave
        let due = try await forwarding.dueDestinations(limit: 10, safe: rooms.horizon.safePosition())
        XCTAssertEqual(Set(due.destinations), ["a.test", "b.test", "c.test"], "a.test: its own leave is a false positive, claimed empty")
        let head = try await StorageFixture.rows(pool, "SELECT stream_ordering FROM events WHERE event_id = $1", [.text(carols.eventID)])
        XCTAssertEqual(due.scannedThrough, Int64(head[0][0]), "covered up to the stream's head")
        let gauge = try await forwarding.backlogGauge()
        XCTAssertEqual(gauge.positions, 5, "b.test and c.test are 2 positions behind (both leaves), a.test 1 (carol's leave)")
        XCTAssertNotNil(gauge.oldestWait)
        let toB = try await claimedEventIDs("b.test"), toC = try await claimedEventIDs("c.test")
        let toA = try await claimedEventIDs("a.test"), toUs = try await claimedEventIDs("resident.test")
        XCTAssertEqual(toB, [first.eventID, carols.eventID])
        XCTAssertEqual(toC, [first.eventID])
        XCTAssertEqual(toA, [carols.eventID])
        XCTAssertNil(toUs, "never sent to ourselves")
        let backlog = try await forwarding.backlog()
        XCTAssertEqual(backlog.events, 4)
        XCTAssertNotNil(backlog.oldestWait)
    }

    /// Claims and completes `destination`'s due events; their IDs ([] when nothing is due).
    private func takeDue(_ destination: String) async throws -> [String] {
        guard let batch = try await claim(destination, limit: 50, lease: .seconds(60)) else { return [] }
        try await forwarding.complete(batch, delivered: true)
        return batch.events.map(\.eventID)
    }

    /// The homeserver's pushes (import_room's append) keep each server's place on the stream: a
    /// server that joins through an append is sent only what is accepted after it joined; one whose
    /// last member goes through an append is still sent what was accepted before.
    func testAnAppendStartsAJoiningServerAfterItAndKeepsWhatADepartingServerIsOwed() async throws {
        let before = try await leave("@m0:a.test")
        let daveJoin = RoomBuilder.record(
            roomID: room.roomID, id: "$join-dave", type: "m.room.member", stateKey: "@dave:d.test", sender: "@dave:d.test",
            membership: "join", prevEvents: [before.eventID], depth: 20)
        let bobBan = RoomBuilder.record(
            roomID: room.roomID, id: "$ban-bob", type: "m.room.member", stateKey: "@bob:b.test", sender: "@admin:resident.test",
            membership: "ban", prevEvents: ["$join-dave", "$join-@bob:b.test-\(room.roomID)"], depth: 21)
        let appended = try await rooms.importRoom(roomID: room.roomID, version: room.version, events: [daveJoin, bobBan], state: [])
        XCTAssertEqual(appended.newEvents, 2)

        let toD = try await takeDue("d.test"), toB = try await takeDue("b.test"), toC = try await takeDue("c.test")
        XCTAssertEqual(toD, [], "d.test joined after m0's leave was accepted")
        XCTAssertEqual(toB, [before.eventID], "b.test's last member was banned after m0's leave was accepted")
        XCTAssertEqual(toC, [before.eventID], "c.test's position is untouched by the append")

        let after = try await leave("@m1:a.test")
        let laterD = try await takeDue("d.test"), laterB = try await takeDue("b.test"), laterC = try await takeDue("c.test")
        XCTAssertEqual(laterD, [after.eventID])
        XCTAssertEqual(laterB, [], "b.test has no member any more")
        XCTAssertEqual(laterC, [after.eventID])
    }

    func testAClaimIsExclusiveUntilCompletedAndThenMovesOn() async throws {
        let first = try await leave("@m0:a.test")
        let claimed = try await claim("b.test", limit: 50, lease: .seconds(60))
        let batch = try XCTUnwrap(claimed)
        XCTAssertEqual(batch.events.map(\.eventID), [first.eventID])
        XCTAssertEqual(batch.events.map(\.pdu), [first.pdu])
        let second = try await claim("b.test", limit: 50, lease: .seconds(60))
        XCTAssertNil(second, "a leased destination is not claimed twice")
        let otherSender = ForwardingStore(pool: pool, serverName: "resident.test")
        let dueWhileLeased = try await otherSender.dueDestinations(limit: 10, safe: rooms.horizon.safePosition())
        XCTAssertFalse(dueWhileLeased.destinations.contains("b.test"), "leased by another sender")
        let dueToTheHolder = try await forwarding.dueDestinations(limit: 10, safe: rooms.horizon.safePosition())
        XCTAssertTrue(dueToTheHolder.destinations.contains("b.test"), "the sender holding the lease may find it due again")

        let later = try await leave("@m1:a.test")
        try await forwarding.complete(batch, delivered: true)
        let claimedNext = try await claim("b.test", limit: 50, lease: .seconds(60))
        let next = try XCTUnwrap(claimedNext)
        XCTAssertEqual(next.events.map(\.eventID), [later.eventID], "after completion: only what is new")
        XCTAssertGreaterThan(next.after, batch.after)
        XCTAssertNotEqual(next.transactionID, batch.transactionID)
    }

    /// A sender that dies holds the destination until its lease ends; the next claim gets the same
    /// events with the same transaction ID.
    func testAnExpiredLeaseGivesTheSameBatchAndTransactionID() async throws {
        _ = try await leaves(3)
        let claimedFirst = try await claim("b.test", limit: 2, lease: .milliseconds(1))
        let lost = try XCTUnwrap(claimedFirst)
        XCTAssertEqual(lost.events.count, 2)
        try await Task.sleep(for: .milliseconds(20))
        let claimedAgain = try await claim("b.test", limit: 2, lease: .seconds(60))
        let again = try XCTUnwrap(claimedAgain)
        XCTAssertEqual(again.events, lost.events)
        XCTAssertEqual(again.transactionID, lost.transactionID)
        XCTAssertEqual(again.through, lost.events[1].streamPosition, "a full batch ends at its last event")
        try await forwarding.complete(lost, delivered: true)   // the dead sender's late completion
        let heldStill = try await claim("b.test", limit: 2, lease: .seconds(60))
        XCTAssertNil(heldStill, "a late completion does not release another sender's lease")
    }

    /// Leaves of `@m0:a.test` … `@m<count-1>:a.test` in the setUp room, in stream order.
    private func leaves(_ count: Int) async throws -> [EventRecord] {
        var leaves: [EventRecord] = []
        for index in 0..<count { leaves.append(try await leave("@m\(index):a.test")) }
        return leaves
    }

    /// A full batch's completion claims the next in the same statement: the position moves and the
    /// lease passes to the next batch, which holds the destination; the old owner claims nothing.
    func testACompletionClaimsTheNextBatchOnlyWhileTheLeaseIsStillOurs() async throws {
        let leaves = try await leaves(3)
        let safe = try await rooms.horizon.safePosition()
        let claimedFirst = try await claim("b.test", limit: 2, lease: .seconds(60))
        let first = try XCTUnwrap(claimedFirst)
        let claimedSecond = try await forwarding.complete(first, delivered: true, thenClaimUpTo: 2, lease: .seconds(60), safe: safe)
        let second = try XCTUnwrap(claimedSecond)
        XCTAssertEqual(second.events.map(\.eventID), [leaves[2].eventID], "the next batch starts after the completed one")
        XCTAssertEqual(second.after, first.through)
        XCTAssertNotEqual(second.owner, first.owner)
        let row = try await StorageFixture.rows(pool, """
            SELECT stream_position, lease_owner, failures, lease_until > now() + interval '50 seconds'
            FROM destinations WHERE destination = 'b.test'
            """)
        XCTAssertEqual(row, [[String(first.through), second.owner, "0", "t"]])
        let whileHeld = try await claim("b.test", limit: 2, lease: .seconds(60))
        XCTAssertNil(whileHeld, "the next batch's lease holds the destination")
        let late = try await forwarding.complete(first, delivered: true, thenClaimUpTo: 2, lease: .seconds(60), safe: safe)
        XCTAssertNil(late, "a completion repeated with the old owner claims nothing")
        try await forwarding.complete(second, delivered: true)
        let claimedDone = try await claim("b.test", limit: 2, lease: .seconds(60))
        XCTAssertEqual(claimedDone?.events, [], "released and complete")
    }

    /// The combined claim leaves out exactly the PDUs at the positions the caller says it holds
    /// (positions already passed or holding no event change nothing), and `pdus(at:)` reads them
    /// again, byte for byte as a plain claim returns them.
    func testACompletionLeavesOutThePDUsTheCallerHolds() async throws {
        let leaves = try await leaves(3)
        let safe = try await rooms.horizon.safePosition()
        let claimedFirst = try await claim("b.test", limit: 1, lease: .seconds(60))
        let first = try XCTUnwrap(claimedFirst)
        let positions = try await StorageFixture.rows(pool, """
            SELECT stream_ordering FROM events WHERE event_id = ANY(ARRAY['\(leaves[1].eventID)', '\(leaves[2].eventID)'])
            ORDER BY stream_ordering
            """).map { Int64($0[0])! }
        let claimed = try await forwarding.complete(first, delivered: true, thenClaimUpTo: 2, lease: .seconds(60), safe: safe,
                                                    holding: [first.through, positions[0], 999_999_999])
        let second = try XCTUnwrap(claimed)
        XCTAssertEqual(second.events.map(\.eventID), [leaves[1].eventID, leaves[2].eventID])
        XCTAssertNil(second.events[0].pdu, "held: left out")
        XCTAssertNotNil(second.events[1].pdu, "not held: sent")
        let claimedPlain = try await claim("c.test", limit: 3, lease: .seconds(60))
        let plain = try XCTUnwrap(claimedPlain)
        XCTAssertEqual(plain.events.map(\.eventID), leaves.map(\.eventID))
        XCTAssertTrue(plain.events.allSatisfy { $0.pdu != nil }, "a plain claim sends every PDU")
        XCTAssertEqual(second.events[1].pdu, plain.events[2].pdu)
        let reread = try await forwarding.pdus(at: positions + [999_999_999])
        XCTAssertEqual(reread.count, 2, "a position without an event is absent")
        XCTAssertEqual(reread[positions[0]]?.eventID, leaves[1].eventID)
        XCTAssertEqual(reread[positions[0]]?.pdu, plain.events[1].pdu)
        XCTAssertEqual(reread[positions[1]]?.pdu, plain.events[2].pdu)
    }

    /// Two senders draining one destination at once, each completing its full batches with the next
    /// claim: the lease passes from batch to batch without a gap, so the sender that claims first
    /// drains everything while the other finds the destination held; every due event is claimed
    /// once, in stream order, and the lease is released at the end.
    func testTwoSendersDrainingWithCombinedClaimsTakeEveryEventOnce() async throws {
        var many = RoomBuilder(roomID: "!many:resident.test")
        many.join("@admin:resident.test")
        for index in 0..<20 { many.join("@n\(index):a.test") }
        many.join("@dave:b.test")
        _ = try await rooms.importRoom(roomID: many.roomID, version: many.version, events: many.events, state: many.stateRecords)
        var leaves: [String] = []
        for index in 0..<20 { leaves.append(try await leave("@n\(index):a.test", in: many).eventID) }
        let safe = try await rooms.horizon.safePosition()

        @Sendable func drain(_ store: ForwardingStore) async throws -> [String] {
            var taken: [String] = []
            for _ in 0..<500 {
                var batch = try await store.claim(destination: "b.test", limit: 3, lease: .seconds(60), safe: safe)
                while let claimed = batch, !claimed.events.isEmpty {
                    taken += claimed.events.map(\.eventID)
                    if claimed.events.count == 3 {
                        batch = try await store.complete(claimed, delivered: true, thenClaimUpTo: 3, lease: .seconds(60), safe: safe)
                    } else {
                        try await store.complete(claimed, delivered: true)
                        batch = nil
                    }
                }
                if let finished = batch { try await store.complete(finished, delivered: true) }   // claimed, nothing left
                if try await store.backlog().events == 0 { break }
                await Task.yield()
            }
            return taken
        }
        let mine: ForwardingStore = forwarding, other = ForwardingStore(pool: pool, serverName: "resident.test")
        async let first = drain(mine)
        async let second = drain(other)
        let (one, two) = try await (first, second)
        XCTAssertEqual((one + two).sorted(), leaves.sorted(), "every event claimed once: \(one) / \(two)")
        XCTAssertTrue(one.isEmpty || two.isEmpty, "one holder from batch to batch: \(one.count) / \(two.count)")
        XCTAssertEqual(one + two, leaves, "in stream order")
        let row = try await StorageFixture.rows(pool, "SELECT lease_owner FROM destinations WHERE destination = 'b.test'")
        XCTAssertEqual(row, [["∅"]], "released at the end")
        let backlog = try await forwarding.backlog()
        XCTAssertEqual(backlog.events, 0)
    }

    /// A lease lost meanwhile is left to its holder (the position still moves); a destination backed
    /// off meanwhile is released, unless the batch was delivered.
    func testACompletionLeavesALostLeaseToItsHolderAndABackedOffDestinationFree() async throws {
        let leaves = try await leaves(3)
        let safe = try await rooms.horizon.safePosition()
        let claimedLost = try await claim("b.test", limit: 1, lease: .milliseconds(1))
        let lost = try XCTUnwrap(claimedLost)
        try await Task.sleep(for: .milliseconds(20))
        let claimedByOther = try await claim("b.test", limit: 1, lease: .seconds(60))
        let other = try XCTUnwrap(claimedByOther)
        XCTAssertEqual(other.events, lost.events, "the lost batch, claimed again")
        let stolen = try await forwarding.complete(lost, delivered: true, thenClaimUpTo: 1, lease: .seconds(60), safe: safe)
        XCTAssertNil(stolen, "another sender holds the destination")
        let held = try await StorageFixture.rows(pool, "SELECT stream_position, lease_owner FROM destinations WHERE destination = 'b.test'")
        XCTAssertEqual(held, [[String(lost.through), other.owner]], "the position moved; the other sender's lease is untouched")

        // Backed off while `other` was in flight (a dead sender's late failure): not delivered → released.
        _ = try await StorageFixture.rows(pool, "UPDATE destinations SET retry_at = now() + interval '1 hour' WHERE destination = 'b.test'")
        let backedOff = try await forwarding.complete(other, delivered: false, thenClaimUpTo: 1, lease: .seconds(60), safe: safe)
        XCTAssertNil(backedOff)
        let released = try await StorageFixture.rows(pool, "SELECT lease_owner FROM destinations WHERE destination = 'b.test'")
        XCTAssertEqual(released, [["∅"]])
        // Delivered: the back-off clears, so the next batch is claimed.
        _ = try await StorageFixture.rows(pool, "UPDATE destinations SET retry_at = NULL WHERE destination = 'b.test'")
        let claimedLast = try await claim("b.test", limit: 1, lease: .seconds(60))
        let last = try XCTUnwrap(claimedLast)
        XCTAssertEqual(last.events.map(\.eventID), [leaves[1].eventID])
        _ = try await StorageFixture.rows(pool, "UPDATE destinations SET retry_at = now() + interval '1 hour' WHERE destination = 'b.test'")
        let claimedAfter = try await forwarding.complete(last, delivered: true, thenClaimUpTo: 1, lease: .seconds(60), safe: safe)
        XCTAssertEqual(claimedAfter?.events.map(\.eventID), [leaves[2].eventID], "claimed, though backed off: the batch was delivered")
        let cleared = try await StorageFixture.rows(pool, "SELECT retry_at, lease_owner = $1 FROM destinations WHERE destination = 'b.test'",
                                                    [.text(claimedAfter?.owner ?? "")])
        XCTAssertEqual(cleared, [["∅", "t"]])
    }

    /// A sender whose lease ended while its send failed does not back off a destination another
    /// sender now holds (and may just have served): only the lease's owner records a failure.
    func testALateFailureDoesNotBackOffADestinationAnotherSenderHolds() async throws {
        _ = try await leaves(2)
        let claimedFirst = try await claim("b.test", limit: 2, lease: .milliseconds(1))
        let lost = try XCTUnwrap(claimedFirst)
        try await Task.sleep(for: .milliseconds(20))
        let claimedAgain = try await claim("b.test", limit: 2, lease: .seconds(60))
        let held = try XCTUnwrap(claimedAgain)
        try await forwarding.fail(lost, error: "timed out", backoff: BackoffPolicy(base: .seconds(10), maximum: .seconds(35)))
        let state = try await StorageFixture.rows(pool, """
            SELECT failures, retry_at IS NULL, lease_owner = $1 FROM destinations WHERE destination = 'b.test'
            """, [.text(held.owner)])
        XCTAssertEqual(state, [["0", "t", "t"]])
    }

    func testFailuresBackOffEveryWorkerAndSuccessClearsIt() async throws {
        _ = try await leave("@m0:a.test")
        let policy = BackoffPolicy(base: .seconds(10), maximum: .seconds(35))
        let claimed = try await claim("b.test", limit: 50, lease: .seconds(60))
        let batch = try XCTUnwrap(claimed)
        try await forwarding.fail(batch, error: "connection refused", backoff: policy)
        let backedOff = try await claim("b.test", limit: 50, lease: .seconds(60))
        XCTAssertNil(backedOff)
        let dueWhileBackedOff = try await forwarding.dueDestinations(limit: 10, safe: rooms.horizon.safePosition())
        XCTAssertFalse(dueWhileBackedOff.destinations.contains("b.test"))
        let waits = try await StorageFixture.rows(pool, """
            SELECT failures, round(extract(epoch FROM retry_at - last_failure_at)), last_error, lease_owner IS NULL
            FROM destinations WHERE destination = 'b.test'
            """)
        XCTAssertEqual(waits, [["1", "10", "connection refused", "t"]])
        for expected in ["20", "35"] {
            _ = try await StorageFixture.rows(pool, "UPDATE destinations SET retry_at = NULL WHERE destination = 'b.test'")
            let claimedRetry = try await claim("b.test", limit: 50, lease: .seconds(60))
            let retry = try XCTUnwrap(claimedRetry)
            XCTAssertEqual(retry.transactionID, batch.transactionID)
            try await forwarding.fail(retry, error: "again", backoff: policy)
            let wait = try await StorageFixture.rows(pool, """
                SELECT round(extract(epoch FROM retry_at - last_failure_at)) FROM destinations WHERE destination = 'b.test'
                """)
            XCTAssertEqual(wait, [[expected]])
        }
        _ = try await StorageFixture.rows(pool, "UPDATE destinations SET retry_at = NULL WHERE destination = 'b.test'")
        let claimedLast = try await claim("b.test", limit: 50, lease: .seconds(60))
        let retry = try XCTUnwrap(claimedLast)
        try await forwarding.complete(retry, delivered: true)
        let cleared = try await StorageFixture.rows(pool, "SELECT failures, retry_at FROM destinations WHERE destination = 'b.test'")
        XCTAssertEqual(cleared, [["0", "∅"]])
        let claimedDone = try await claim("b.test", limit: 50, lease: .seconds(60))
        let done = try XCTUnwrap(claimedDone)
        XCTAssertEqual(done.events, [])
    }

    /// A hostile destination's answer (`{"errcode":"\u0000"}`) puts a NUL into the failure's text,
    /// which Postgres `text` refuses (22021): the back-off was never recorded, so the destination
    /// was tried again at every lease, forever. The failure counts; the NUL is stored as U+FFFD.
    func testAFailureWhoseTextHoldsANulIsRecorded() async throws {
        _ = try await leave("@m0:a.test")
        let claimed = try await claim("b.test", limit: 50, lease: .seconds(60))
        try await forwarding.fail(try XCTUnwrap(claimed), error: "HTTP 400 \u{0}")
        let recorded = try await StorageFixture.rows(pool, """
            SELECT failures, retry_at IS NOT NULL, last_error FROM destinations WHERE destination = 'b.test'
            """)
        XCTAssertEqual(recorded, [["1", "t", "HTTP 400 \u{FFFD}"]])
    }

    /// Accepting costs the same whatever the room's size in servers: a leave's transaction writes
    /// the same rows (row versions carrying its transaction ID) in a room of 2 servers and of 200.
    func testALeaveWritesTheSameRowsInARoomOfTwoOrTwoHundredServers() async throws {
        func rowsWritten(servers: Int) async throws -> [String] {
            var big = RoomBuilder(roomID: "!servers\(servers):resident.test")
            big.join("@admin:resident.test")
            for index in 0..<servers - 1 { big.join("@u\(index):s\(index).test") }
            _ = try await rooms.importRoom(roomID: big.roomID, version: big.version, events: big.events, state: big.stateRecords)
            let stored = try await leave("@u0:s0.test", in: big)
            let xid = try await StorageFixture.rows(pool, "SELECT xmin::text FROM events WHERE event_id = $1", [.text(stored.eventID)])[0][0]
            var written: [String] = []
            for table in ["rooms", "events", "current_state", "memberships", "forward_extremities", "room_joined_servers",
                          "destinations", "server_keys"] {
                let count = try await StorageFixture.rows(pool, "SELECT count(*) FROM \(table) WHERE xmin::text = $1", [.text(xid)])
                written.append("\(table) \(count[0][0])")
            }
            return written
        }
        let small = try await rowsWritten(servers: 2)
        let large = try await rowsWritten(servers: 200)
        XCTAssertEqual(small, large)
        XCTAssertEqual(small, ["rooms 0", "events 1", "current_state 1", "memberships 1", "forward_extremities 1",
                               "room_joined_servers 1", "destinations 0", "server_keys 0"])
    }
}
