import Foundation
@testable import LoadGen
import XCTest

/// scripts/ab-row.py reads the report `loadgen --json` writes: rate, latency, CPU per leave of each
/// process group (over the run, and over the run and the drain), drain, the forwarding check,
/// failures and lost — from a real report rendered by LoadReport.
final class ABRowTests: XCTestCase {
    private static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("scripts/ab-row.py").path

    private func run(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", Self.script] + arguments
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0)
        return String(decoding: data, as: UTF8.self)
    }

    func testARowFromALoadgenReport() throws {
        var statistics = RunStatistics()
        for milliseconds in UInt64(1)...1000 {
            statistics.recordAttempt()
            statistics.record(.sendLeave, microseconds: milliseconds * 1000)
            statistics.recordAccepted(AcceptedLeave(roomID: "!r:x", userID: "@u\(milliseconds):y", eventID: "$\(milliseconds)"))
        }
        statistics.recordAttempt()
        statistics.recordFailure(FailureKind(endpoint: .sendLeave, status: 503, detail: "M_UNKNOWN"))
        var report = LoadReport(mode: .sendOnly, target: "http://127.0.0.1:1", concurrency: 8, stopReason: .duration,
                                statistics: statistics, elapsedSeconds: 2, generatorCPU: CPUTime(user: 0.1, system: 0.1))
        // 1000 leaves in 2 s: 0.5 cores is 1 ms per leave.
        report.cpuSplit = CPUSplit(shares: [(group: "generator", cores: 0.05), (group: "leave-worker", cores: 0.5),
                                            (group: "postgres", cores: 0.75)], idleCores: 0.7, machineCores: 2)
        // Over the run and a 2 s drain (4 s): 0.75 cores is 3 ms per leave, Postgres' 1 core 4 ms.
        report.cpuSplitWithDrain = CPUSplit(shares: [(group: "leave-worker", cores: 0.75), (group: "postgres", cores: 1)],
                                            idleCores: 0.2, machineCores: 2)
        report.elapsedWithDrainSeconds = 4
        report.lost = 0
        report.forwarding = ForwardingOutcome(drainSeconds: 0.25, backlogLeft: 0, expected: 1000, missing: 0, duplicated: 0,
                                              unexpected: 0, unauthenticated: 0)
        report.ed25519VerifyMicroseconds = 57.3
        var cells = try self.cells(report)
        XCTAssertEqual(cells["run"], "1")
        XCTAssertEqual(cells["build"], "B")
        XCTAssertEqual(cells["per_s"], "500.0")
        XCTAssertEqual(try XCTUnwrap(Double(cells["p50_ms"] ?? "")), 500, accuracy: 1)
        XCTAssertEqual(try XCTUnwrap(Double(cells["p99_ms"] ?? "")), 990, accuracy: 1)
        XCTAssertEqual(cells["worker_ms"], "1.000")
        XCTAssertEqual(cells["pg_ms"], "1.500")
        XCTAssertEqual(cells["gen_ms"], "0.100")
        XCTAssertEqual(cells["drain_s"], "0.25")
        XCTAssertEqual(cells["w+d_ms"], "3.000")
        XCTAssertEqual(cells["pg+d_ms"], "4.000")
        XCTAssertEqual(cells["fwd"], "ok")
        XCTAssertEqual(cells["failed"], "1")
        XCTAssertEqual(cells["lost"], "0")
        XCTAssertEqual(cells["pgbench_tps"], "4321.5")
        XCTAssertEqual(cells["verify_us"], "57.3")

        // A failed check shows its counts; a run not verified, or not drained, shows "-".
        report.forwarding?.duplicated = 2
        report.forwarding?.unauthenticated = 5
        XCTAssertEqual(try self.cells(report)["fwd"], "0/2/0/5")
        report.forwarding = ForwardingOutcome(drainSeconds: nil, backlogLeft: 7)
        report.cpuSplitWithDrain = nil
        report.elapsedWithDrainSeconds = nil
        cells = try self.cells(report)
        XCTAssertEqual(cells["fwd"], "-")
        XCTAssertEqual(cells["drain_s"], ">")
        XCTAssertEqual(cells["w+d_ms"], "-")
    }

    /// The header's columns and the row's cells of `report`, by column name.
    private func cells(_ report: LoadReport) throws -> [String: String] {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("ab-row-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: file) }
        try Data(report.json.compactBytes()).write(to: file)

        let header = try run(["--header"]).split(separator: " ", omittingEmptySubsequences: true)
        let row = try run([file.path, "1", "B", "4321.5"]).split(separator: " ", omittingEmptySubsequences: true)
        XCTAssertEqual(header.count, row.count)
        return Dictionary(uniqueKeysWithValues: zip(header.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) },
                                                     row.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }))
    }
}
