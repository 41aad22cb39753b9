@testable import LoadGen
import XCTest

/// The CPU split reads /proc lines correctly (with reaped children's ticks) and attributes each
/// process's ticks to its group, exited processes' to the group of the parent that reaped them.
final class MachineCPUTests: XCTestCase {
    func testReadsTheTicksAfterACommandNameWithSpacesAndParentheses() throws {
        let line = "4242 (odd (name) x) S 1 4242 4242 0 -1 4194560 500 0 0 0 1234 567 0 0 20 0 9 0 100 0 0"
        let parsed = try XCTUnwrap(MachineCPU.parseProcessStat(line))
        XCTAssertEqual(parsed.command, "odd (name) x")
        XCTAssertEqual(parsed.parent, 1)
        XCTAssertEqual(parsed.ticks, 1234 + 567)
        XCTAssertNil(MachineCPU.parseProcessStat("4242 (short) S 1 2"))
        XCTAssertNil(MachineCPU.parseProcessStat("no parentheses at all"))
    }

    func testIdleTicksAreIdlePlusIOWait() {
        let stat = "cpu  100 5 50 9000 30 0 7 0 0 0\ncpu0 50 2 25 4500 15 0 3 0 0 0\n"
        XCTAssertEqual(MachineCPU.idleTicks(fromStat: stat), 9030)
        XCTAssertNil(MachineCPU.idleTicks(fromStat: "intr 1 2 3"))
    }

    /// A postmaster's line (PID 812, a child of init): user 150, system 90, and its exited
    /// children's — backends, autovacuum workers it reaped — user 3200, system 1100.
    func testTheTicksIncludeThoseOfReapedChildren() throws {
        let line = "812 (postgres) S 1 812 812 0 -1 4194560 5000 120000 0 12 150 90 3200 1100 20 0 1 0 4567 "
            + "226803712 3000 18446744073709551615 1 1 0 0 0 0 4194304 19935 0 0 0 17 1 0 0 0 0 0"
        let parsed = try XCTUnwrap(MachineCPU.parseProcessStat(line))
        XCTAssertEqual(parsed.command, "postgres")
        XCTAssertEqual(parsed.parent, 1)
        XCTAssertEqual(parsed.ticks, 150 + 90 + 3200 + 1100)
    }

    func testTheSplitCountsEachGroupsTicksDuringTheRun() throws {
        let hz = UInt64(MachineCPU.clockTicksPerSecond)
        let before = MachineCPU(processes: [
            10: (.generator, 1, 5 * hz), 20: (.worker, 1, 100 * hz), 30: (.postgres, 1, 7 * hz), 40: (.postgres, 30, 1 * hz),
            50: (.other, 1, 3 * hz), 80: (.postgres, 90, 4 * hz), 90: (.other, 1, 0),
        ], idleTicks: 1000 * hz)
        let after = MachineCPU(processes: [
            10: (.generator, 1, 6 * hz),       // +1 s
            20: (.worker, 1, 103 * hz),        // +3 s
            30: (.postgres, 1, 12 * hz),       // +2 s of its own, and process 40's whole life (1 s before, 2 s during)
            60: (.postgres, 30, 1 * hz),       // started during the run: +1 s
            50: (.haproxy, 1, 2 * hz),         // PID reused by another program: counted from zero
            90: (.other, 1, 5 * hz),           // a shell that reaped another cluster's postmaster 80 (4 s before, 1 s during)
        ], idleTicks: 1004 * hz)              // 40 and 80 ended: their time before the run is taken from their reapers' groups
        let split = after.split(since: before, seconds: 2)
        let cores = Dictionary(uniqueKeysWithValues: split.shares.map { ($0.group, $0.cores) })
        XCTAssertEqual(cores, ["generator": 0.5, "leave-worker": 1.5, "postgres": 2.5, "haproxy": 1.0, "other": 0.5])
        XCTAssertEqual(split.shares.map(\.group), ["generator", "leave-worker", "postgres", "haproxy", "other"])
        XCTAssertEqual(split.idleCores, 2)
    }

    func testASnapshotOfThisMachineFindsThisProcessAsTheGenerator() throws {
        let snapshot = try XCTUnwrap(MachineCPU.snapshot(), "Linux has /proc")
        XCTAssertEqual(snapshot.processes[getpid()]?.group, .generator)
        XCTAssertNil(MachineCPU.snapshot(procDirectory: "/nonexistent"))
    }
}
