import Foundation
import MatrixCore
import Postgres
import RemoteHomeserver
import TestSupport
import Testing

/// What a running worker keeps from growing: `/metrics` gains no series per remote destination.
@Suite(.serialized)
struct GrowthBoundsTests {
    static let bob = "@bob:remote.test"

    /// The series (name and labels, without the value) in Prometheus text.
    static func series(_ text: String) -> Set<String> {
        Set(text.split(separator: "\n").filter { $0.hasPrefix("leave_worker_") }.compactMap { line in
            line.lastIndex(of: " ").map { String(line[..<$0]) }
        })
    }

    @Test func aThousandFailingDestinationsAddNoMetricSeries() async throws {
        let fixture = try await ResidentFixture()
        let destinations = (1...1_000).map { "d\($0).test" }
        // Every destination is "reachable" through an override on a loopback port nobody listens on.
        let refusingPort = WorkerProcess.freePort()
        var environment = fixture.environment
        environment["LEAVE_WORKER_FEDERATION_OVERRIDES", default: ""] += destinations.map { ",\($0)=http://127.0.0.1:\(refusingPort)" }.joined()
        environment["LEAVE_WORKER_SENDER_POLL_MS"] = "200"
        // A refused connection is retried until the send's timeout: keep that short, and many at once.
        environment["LEAVE_WORKER_SENDER_TIMEOUT_MS"] = "300"
        environment["LEAVE_WORKER_SENDER_CONCURRENCY"] = "100"
        let worker = try await WorkerProcess(environment: environment)
        defer { worker.stop() }
        let room = try fixture.buildRoom(version: "10", members: [PlannedMember(userID: Self.bob, membership: .join)], label: "metrics")
        try await fixture.importRoom(room)
        let remote = fixture.requester(worker)
        let template = try await remote.makeLeave(roomID: room.roomID, userID: Self.bob)
        let leave = try fixture.remote.eventSigner.signLeave(makeLeaveResponse: try #require(template.json), roomID: room.roomID,
                                                             userID: Self.bob)
        #expect(try await remote.sendLeave(roomID: room.roomID, eventID: leave.eventID, pdu: leave.pdu).status == 200)
        _ = await RawConnection.metrics(port: worker.port)
        let before = Self.series(await RawConnection.metrics(port: worker.port))

        try await fixture.pool.withConnection { connection in
            // Each of them a server of the room since before the leave: the leave is due to all.
            _ = try connection.query("""
                INSERT INTO room_joined_servers (room_id, server_name, joined_members) SELECT $1, unnest($2::text[]), 1
                """, [.text(room.roomID), .textArray(destinations)])
        }
        var failures = 0.0
        var text = ""
        for _ in 0..<300 where failures < 1_000 {
            try await Task.sleep(for: .milliseconds(200))
            text = await RawConnection.metrics(port: worker.port)
            failures = text.split(separator: "\n").first { $0.hasPrefix(#"leave_worker_forwarding_failures_total{kind="no_answer"}"#) }
                .flatMap { Double($0.split(separator: " ").last ?? "") } ?? 0
        }
        #expect(failures >= 1_000, "the sender did not try every destination")
        let added = Self.series(text).subtracting(before)
        #expect(added.count < 20, "new series: \(added.sorted())")
        #expect(!text.contains(".test"), "a destination's name in /metrics")
        await worker.stopWithoutBlocking()
        await fixture.shutdown()
    }
}
