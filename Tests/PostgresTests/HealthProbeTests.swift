@testable import Postgres
import TestSupport
import XCTest

/// The readiness probe against a server that takes the connection and never answers (an address
/// gone dark): every caller is answered at its own timeout and leaves — they were kept until the
/// hung probe ended (≈ 15 minutes for a vanished server), one entry per `/ready` meanwhile.
final class HealthProbeTests: XCTestCase {
    func testCallersOfAHungProbeAreAnsweredAndLeaveAtTheirTimeout() async throws {
        let hanging = try HangingPort(port: WorkerProcess.freePort())
        defer { hanging.close() }
        let configuration = PostgresConfiguration(url: "postgresql://nobody@127.0.0.1:\(hanging.port)/none?connect_timeout=20", poolSize: 1)
        let probe = HealthProbe()
        let answers = await withTaskGroup(of: Bool.self, returning: [Bool].self) { group in
            for _ in 0..<20 { group.addTask { await probe.check(configuration: configuration, timeout: .milliseconds(200)) } }
            return await group.reduce(into: []) { $0.append($1) }
        }
        XCTAssertEqual(answers, Array(repeating: false, count: 20))
        // The probe still hangs (20 s to its connect timeout); nobody waits for it now.
        XCTAssertEqual(probe.waitingCount, 0)
    }
}
