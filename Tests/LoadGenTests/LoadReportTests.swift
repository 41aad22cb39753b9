@testable import LoadGen
import MatrixCore
import XCTest

/// The report's maths: percentiles from merged per-task statistics, throughput, CPU share,
/// failures grouped and ordered, and both renderings.
final class LoadReportTests: XCTestCase {
    private func statistics(latenciesMS: ClosedRange<UInt64>, endpoint: Endpoint) -> RunStatistics {
        var statistics = RunStatistics()
        for milliseconds in latenciesMS {
            statistics.recordAttempt()
            statistics.record(endpoint, microseconds: milliseconds * 1000)
            statistics.recordAccepted(AcceptedLeave(roomID: "!r:x", userID: "@u\(milliseconds):y", eventID: "$\(milliseconds)"))
        }
        return statistics
    }

    func testPercentilesComeFromTheMergedHistograms() throws {
        // Two tasks measured 1…500 ms and 501…1000 ms: together 1…1000 ms, one each.
        var merged = statistics(latenciesMS: 1...500, endpoint: .sendLeave)
        merged.merge(statistics(latenciesMS: 501...1000, endpoint: .sendLeave))
        let report = LoadReport(mode: .sendOnly, target: "http://127.0.0.1:1", concurrency: 2, stopReason: .count,
                                statistics: merged, elapsedSeconds: 4, generatorCPU: CPUTime(user: 1.5, system: 0.5))
        let latency = try XCTUnwrap(report.latencies.first)
        XCTAssertEqual(report.latencies.map(\.endpoint), [.sendLeave])
        XCTAssertEqual(latency.count, 1000)
        // HdrHistogram with 3 significant digits: within 0.1 %.
        XCTAssertEqual(latency.p50, 500, accuracy: 0.5)
        XCTAssertEqual(latency.p90, 900, accuracy: 0.9)
        XCTAssertEqual(latency.p99, 990, accuracy: 1)
        XCTAssertEqual(latency.p999, 999, accuracy: 1)
        XCTAssertEqual(latency.max, 1000, accuracy: 1)
        XCTAssertEqual(report.attempted, 1000)
        XCTAssertEqual(report.accepted, 1000)
        XCTAssertEqual(report.throughput, 250, accuracy: 1e-9)
        XCTAssertEqual(report.generatorCores, 0.5, accuracy: 1e-9)
    }

    func testFailuresAreGroupedByKindMostFrequentFirst() {
        var statistics = RunStatistics()
        let forbidden = FailureKind(endpoint: .sendLeave, status: 403, detail: "M_FORBIDDEN")
        let unavailable = FailureKind(endpoint: .sendLeave, status: 503, detail: "M_UNKNOWN")
        let refused = FailureKind(endpoint: .makeLeave, status: nil, detail: "connection refused")
        for _ in 0..<3 { statistics.recordFailure(unavailable) }
        statistics.recordFailure(forbidden)
        statistics.recordFailure(refused)
        var other = RunStatistics()
        other.recordFailure(forbidden)
        statistics.merge(other)
        let report = LoadReport(mode: .pairs, target: "t", concurrency: 1, stopReason: .duration,
                                statistics: statistics, elapsedSeconds: 1, generatorCPU: CPUTime(user: 0, system: 0))
        XCTAssertEqual(report.failures.map(\.kind), [unavailable, forbidden, refused])
        XCTAssertEqual(report.failures.map(\.count), [3, 2, 1])
        XCTAssertEqual(report.failureCount, 6)
        XCTAssertEqual(report.serverErrorCount, 3)
        XCTAssertEqual(report.throughput, 0)
    }

    func testRendersTextAndJSON() throws {
        var report = LoadReport(mode: .pairs, target: "http://127.0.0.1:8448", concurrency: 8, stopReason: .duration,
                                statistics: statistics(latenciesMS: 1...10, endpoint: .pair), elapsedSeconds: 2,
                                generatorCPU: CPUTime(user: 0.25, system: 0.25), forwardedTransactions: 7)
        XCTAssertTrue(report.text.contains("lost: not checked"))
        report.lost = 0
        XCTAssertTrue(report.text.contains("throughput: 5.0 accepted pairs/s"))
        XCTAssertTrue(report.text.contains("lost: 0"))
        XCTAssertTrue(report.text.contains("errors: none"))
        let json = try JSONParser.parse(report.json.compactBytes())
        XCTAssertEqual(json["accepted"], 10)
        XCTAssertEqual(json["lost"], 0)
        XCTAssertEqual(json["mode"], "pairs")
        XCTAssertEqual(json["stop_reason"], "duration")
        XCTAssertEqual(json["forwarded_transactions"], 7)
        XCTAssertEqual(json["latency"]?["pair"]?["count"], 10)
        XCTAssertEqual(json["latency"]?["pair"]?["max_ms"], .nonCanonicalNumber("10.000"))
        XCTAssertEqual(json["throughput_per_s"], .nonCanonicalNumber("5.000"))
        XCTAssertEqual(json["generator_cpu"]?["cores"], .nonCanonicalNumber("0.250"))
        XCTAssertEqual(json["box"], .null, "not measured")
        XCTAssertFalse(report.text.contains("box speed"))
        report.ed25519VerifyMicroseconds = 57.3
        XCTAssertTrue(report.text.contains("box speed: Ed25519 verify 57.3 µs"))
        let measured = try JSONParser.parse(report.json.compactBytes())
        XCTAssertEqual(measured["box"]?["ed25519_verify_us"], .nonCanonicalNumber("57.300"))
    }

    func testTheSplitWithTheDrainIsRenderedBesideTheRunsOwn() throws {
        var report = LoadReport(mode: .sendOnly, target: "http://127.0.0.1:8448", concurrency: 8, stopReason: .duration,
                                statistics: statistics(latenciesMS: 1...10, endpoint: .sendLeave), elapsedSeconds: 2,
                                generatorCPU: CPUTime(user: 0.25, system: 0.25))
        XCTAssertEqual(try JSONParser.parse(report.json.compactBytes())["machine_cpu_with_drain"], .null)
        XCTAssertFalse(report.text.contains("with the drain"))
        report.cpuSplit = CPUSplit(shares: [(group: "postgres", cores: 0.5)], idleCores: 1.5, machineCores: 2)
        report.cpuSplitWithDrain = CPUSplit(shares: [(group: "postgres", cores: 1.25)], idleCores: 0.75, machineCores: 2)
        report.elapsedWithDrainSeconds = 6.5
        let json = try JSONParser.parse(report.json.compactBytes())
        XCTAssertEqual(json["machine_cpu"], ["postgres": .nonCanonicalNumber("0.500"), "idle": .nonCanonicalNumber("1.500")])
        XCTAssertEqual(json["machine_cpu_with_drain"],
                       ["postgres": .nonCanonicalNumber("1.250"), "idle": .nonCanonicalNumber("0.750")])
        XCTAssertEqual(json["elapsed_with_drain_s"], .nonCanonicalNumber("6.500"))
        XCTAssertTrue(report.text.contains("machine CPU with the drain (6.50 s, cores of 2): postgres 1.25  idle 0.75"),
                      report.text)
    }

    /// Why a run fails, in the one line the command prints on standard error.
    func testAFailedRunSaysWhyInOneLine() {
        var report = LoadReport(mode: .sendOnly, target: "http://127.0.0.1:8448", concurrency: 8, stopReason: .duration,
                                statistics: statistics(latenciesMS: 1...10, endpoint: .sendLeave), elapsedSeconds: 2,
                                generatorCPU: CPUTime(user: 0.25, system: 0.25), lost: 0)
        XCTAssertNil(report.failure)
        report.forwarding = ForwardingOutcome(drainSeconds: 0.5, backlogLeft: 0, expected: 9, missing: 0, duplicated: 0,
                                              unexpected: 0, unauthenticated: 0)
        XCTAssertNil(report.failure)
        report.forwarding?.unauthenticated = 4
        XCTAssertEqual(report.failure, "forwarding check failed: 0 missing, 0 duplicated, 0 unexpected, 4 unauthenticated")
        report.forwarding?.missing = 2
        XCTAssertEqual(report.failure, "forwarding check failed: 2 missing, 0 duplicated, 0 unexpected, 4 unauthenticated")
        report.forwarding = ForwardingOutcome(drainSeconds: nil, backlogLeft: 7)
        XCTAssertEqual(report.failure, "backlog not drained: 7 deliveries still due")
        report.lost = 3
        XCTAssertEqual(report.failure, "3 accepted leaves lost")
    }

    /// The calibration verifies real signatures and reports a time per verification.
    func testTheBoxCalibrationTimesSuccessfulVerifications() throws {
        let microseconds = try BoxSpeed.ed25519VerifyMicroseconds(iterations: 50)
        XCTAssertTrue(microseconds.isFinite)
        XCTAssertGreaterThan(microseconds, 0)
    }

    func testLatenciesBeyondTheTrackableRangeAreClamped() {
        var statistics = RunStatistics()
        statistics.record(.makeLeave, microseconds: 0)
        statistics.record(.makeLeave, microseconds: .max)
        let report = LoadReport(mode: .pairs, target: "t", concurrency: 1, stopReason: .count,
                                statistics: statistics, elapsedSeconds: 1, generatorCPU: CPUTime(user: 0, system: 0))
        XCTAssertEqual(report.latencies.first?.count, 2)
        XCTAssertEqual(report.latencies.first?.max ?? 0, 3_600_000, accuracy: 3_600)
    }
}
