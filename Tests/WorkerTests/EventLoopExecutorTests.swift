import Foundation
import MatrixCore
import Postgres
import RemoteHomeserver
import TestSupport
import Testing

/// `serve` runs its tasks on NIO's event loops (`EventLoopExecutor`): the process logs so when it
/// starts, and concurrent handshakes — each borrowing pooled connections whose libpq calls run on
/// Dispatch queues and resume on a loop — all complete.
@Suite(.serialized)
struct EventLoopExecutorTests {
    @Test func serveRunsItsTasksOnTheEventLoopsAndConcurrentHandshakesComplete() async throws {
        let fixture = try await ResidentFixture()
        var environment = fixture.environment
        environment["LEAVE_WORKER_LOG_LEVEL"] = "info"
        let worker = try await WorkerProcess(environment: environment)
        defer { worker.stop() }

        let users = (0..<24).map { "@loop\($0):remote.test" }
        let room = try fixture.buildRoom(version: "10", members: users.map { PlannedMember(userID: $0, membership: .join) })
        try await fixture.importRoom(room)
        let requester = fixture.requester(worker)
        let signer = fixture.remote.eventSigner
        let statuses = try await withThrowingTaskGroup(of: [Int].self) { group in
            for user in users {
                group.addTask {
                    let template = try await requester.makeLeave(roomID: room.roomID, userID: user)
                    guard template.status == 200, let json = template.json else { return [template.status] }
                    let signed = try signer.signLeave(makeLeaveResponse: json, roomID: room.roomID, userID: user)
                    let sent = try await requester.sendLeave(roomID: room.roomID, eventID: signed.eventID, pdu: signed.pdu)
                    return [template.status, sent.status]
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(statuses.count == users.count)
        #expect(statuses.allSatisfy { $0 == [200, 200] }, "\(statuses)")
        let left = try await fixture.pool.withConnection { connection in
            try connection.query("SELECT count(*) FROM memberships WHERE room_id = $1 AND membership = 'leave'",
                                 [.text(room.roomID)]).rows.first?.string(0)
        }
        #expect(left == String(users.count))
        #expect(worker.process.isRunning)
        // Stopped, the worker has written out every buffered log line.
        #expect(worker.stop() == 0)
        #expect(worker.outputText().contains("executor=nio-event-loops"), "\(worker.outputText())")
        await fixture.shutdown()
    }
}
