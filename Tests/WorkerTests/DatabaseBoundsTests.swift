import Foundation
import MatrixCore
import Postgres
import RemoteHomeserver
import TestSupport
import Testing

/// The worker's bounds on waiting for Postgres, against a real worker process and real locks held
/// by the test: a lock wait past `lock_timeout` and a request past its deadline answer 503 with
/// `Retry-After` (writing nothing), the retry succeeds once the lock is gone, and `/ready` stays
/// 200 while every pooled connection is busy.
@Suite(.serialized)
struct DatabaseBoundsTests {
    static let bob = "@bob:remote.test"
    /// Every table a make_leave or send_leave reads or writes, locked so that even reads wait.
    static let allTables = "LOCK TABLE rooms, events, current_state, forward_extremities, memberships IN ACCESS EXCLUSIVE MODE"

    static func startWorker(_ fixture: ResidentFixture, _ settings: [String: String]) async throws -> WorkerProcess {
        var environment = fixture.environment.merging(settings) { $1 }
        environment["LEAVE_WORKER_SENDER"] = "off"
        return try await WorkerProcess(environment: environment)
    }

    func room(_ fixture: ResidentFixture, _ label: String) async throws -> BuiltRoom {
        let room = try fixture.buildRoom(version: "10", members: [PlannedMember(userID: Self.bob, membership: .join)], label: label)
        try await fixture.importRoom(room)
        return room
    }

    @Test func aLockWaitPastTheLockTimeoutAnswers503AndWritesNothingThenTheRetrySucceeds() async throws {
        let fixture = try await ResidentFixture()
        let worker = try await Self.startWorker(fixture, ["LEAVE_WORKER_DB_LOCK_TIMEOUT_MS": "500"])
        defer { worker.stop() }
        let room = try await room(fixture, "lock-timeout")
        let remote = fixture.requester(worker)
        let template = try await remote.makeLeave(roomID: room.roomID, userID: Self.bob)
        let leave = try fixture.remote.eventSigner.signLeave(makeLeaveResponse: try #require(template.json), roomID: room.roomID,
                                                             userID: Self.bob)
        let before = try await fixture.writtenRows(room.roomID)

        let lock = try await HeldLock(pool: fixture.pool, [("SELECT 1 FROM rooms WHERE room_id = $1 FOR UPDATE", [.text(room.roomID)])])
        let refused = try await remote.sendLeave(roomID: room.roomID, eventID: leave.eventID, pdu: leave.pdu)
        let text = String(decoding: refused.body, as: UTF8.self)
        #expect(refused.status == 503, "\(text)")
        #expect(refused.errcode == "M_UNKNOWN")
        #expect(refused.header("Retry-After") != nil)
        for detail in ["canceling statement", "lock timeout", "55P03", "SQL"] { #expect(!text.contains(detail), "\(text)") }
        #expect(try await fixture.writtenRows(room.roomID) == before, "the refused leave wrote rows")
        try await lock.release()

        let retried = try await remote.sendLeave(roomID: room.roomID, eventID: leave.eventID, pdu: leave.pdu)
        #expect(retried.status == 200, "\(String(decoding: retried.body, as: UTF8.self))")
        #expect(try await fixture.members(room.roomID)[Self.bob] == "leave")
        await worker.stopWithoutBlocking()
        await fixture.shutdown()
    }

    @Test func aRequestPastItsDeadlineAnswers503AndTheNextOneSucceeds() async throws {
        let fixture = try await ResidentFixture()
        let worker = try await Self.startWorker(fixture, [
            "LEAVE_WORKER_REQUEST_DEADLINE_MS": "1500",
            "LEAVE_WORKER_DB_LOCK_TIMEOUT_MS": "60000", "LEAVE_WORKER_DB_STATEMENT_TIMEOUT_MS": "60000",
        ])
        defer { worker.stop() }
        let room = try await room(fixture, "deadline")
        let remote = fixture.requester(worker)

        let lock = try await HeldLock(pool: fixture.pool, [(Self.allTables, [])])
        let late = try await remote.makeLeave(roomID: room.roomID, userID: Self.bob)
        #expect(late.status == 503, "\(String(decoding: late.body, as: UTF8.self))")
        #expect(late.errcode == "M_UNKNOWN")
        #expect(late.header("Retry-After") != nil)
        try await lock.release()

        let template = try await remote.makeLeave(roomID: room.roomID, userID: Self.bob)
        #expect(template.status == 200)
        let leave = try fixture.remote.eventSigner.signLeave(makeLeaveResponse: try #require(template.json), roomID: room.roomID,
                                                             userID: Self.bob)
        #expect(try await remote.sendLeave(roomID: room.roomID, eventID: leave.eventID, pdu: leave.pdu).status == 200)
        await worker.stopWithoutBlocking()
        await fixture.shutdown()
    }

    /// Both connections of a pool of two held by blocked reads — a make_leave's and a send_leave's:
    /// reads of one kind share one statement, so more make_leaves alone would hold only one.
    @Test func readyStays200WhileEveryPooledConnectionIsBusy() async throws {
        let fixture = try await ResidentFixture()
        let worker = try await Self.startWorker(fixture, [
            "LEAVE_WORKER_DB_POOL_SIZE": "2",
            "LEAVE_WORKER_DB_LOCK_TIMEOUT_MS": "60000", "LEAVE_WORKER_DB_STATEMENT_TIMEOUT_MS": "60000",
        ])
        defer { worker.stop() }
        let room = try await room(fixture, "ready")
        let remote = fixture.requester(worker)
        // The origin's key is fetched and stored, and the leave signed, before the tables are locked.
        let template = try await remote.makeLeave(roomID: room.roomID, userID: Self.bob)
        #expect(template.status == 200)
        let leave = try fixture.remote.eventSigner.signLeave(makeLeaveResponse: try #require(template.json), roomID: room.roomID,
                                                             userID: Self.bob)

        let lock = try await HeldLock(pool: fixture.pool, [(Self.allTables, [])])
        let blocked = [
            Task { try await remote.makeLeave(roomID: room.roomID, userID: Self.bob).status },
            Task { try await remote.sendLeave(roomID: room.roomID, eventID: leave.eventID, pdu: leave.pdu).status },
        ]
        var saturated = false
        for _ in 0..<100 where !saturated {
            try await Task.sleep(for: .milliseconds(100))
            saturated = Self.gauge("leave_worker_db_pool_in_use", in: await RawConnection.metrics(port: worker.port)) == 2
        }
        #expect(saturated, "the pool never became fully busy")
        for _ in 0..<3 {
            let ready = await RawConnection.get("/ready", port: worker.port)
            #expect(ready.hasPrefix("HTTP/1.1 200"), "/ready while the pool is busy: \(ready)")
        }
        try await lock.release()
        for task in blocked { #expect(try await task.value == 200) }
        await worker.stopWithoutBlocking()
        await fixture.shutdown()
    }

    /// The value of an unlabelled gauge in Prometheus text.
    static func gauge(_ name: String, in text: String) -> Double? {
        text.split(separator: "\n").first { $0.hasPrefix(name + " ") }.flatMap { Double($0.split(separator: " ")[1]) }
    }
}
