@testable import LoadGen
import XCTest

/// Jobs are handed out once each, and the run's stop reason says what ended it.
final class JobQueueTests: XCTestCase {
    private let jobs = (0..<5).map { LeaveJob(roomID: "!r:x", userID: "@u\($0):y", server: "y") }

    private func drain(_ queue: JobQueue) -> [String] {
        var taken: [String] = []
        while let job = queue.take() { taken.append(job.userID) }
        return taken
    }

    func testHandsOutEveryJobOnceThenReportsMembersExhausted() {
        let queue = JobQueue(jobs: jobs, limit: nil, deadline: nil)
        XCTAssertEqual(drain(queue), jobs.map(\.userID))
        XCTAssertNil(queue.take())
        XCTAssertEqual(queue.stopReason(), .membersExhausted)
    }

    func testStopsAtTheCount() {
        let queue = JobQueue(jobs: jobs, limit: 3, deadline: nil)
        XCTAssertEqual(drain(queue).count, 3)
        XCTAssertEqual(queue.stopReason(), .count)
        XCTAssertEqual(drain(JobQueue(jobs: jobs, limit: 5, deadline: nil)).count, 5)
        let larger = JobQueue(jobs: jobs, limit: 50, deadline: nil)
        XCTAssertEqual(drain(larger).count, 5)
        XCTAssertEqual(larger.stopReason(), .membersExhausted)
    }

    func testARepeatingQueueStartsOverUntilTheCount() {
        let queue = JobQueue(jobs: jobs, limit: 12, deadline: nil, repeating: true)
        XCTAssertEqual(drain(queue), (0..<12).map { "@u\($0 % 5):y" })
        XCTAssertEqual(queue.stopReason(), .count)
        let timed = JobQueue(jobs: jobs, limit: nil, deadline: ContinuousClock.now + .seconds(3600), repeating: true)
        for _ in 0..<1000 { XCTAssertNotNil(timed.take()) }
    }

    func testAPacedQueueSpacesTheJobsAndStopsBeforeTheDeadline() throws {
        // Starting in an hour: the deadline cannot pass while the test runs, however slow the machine.
        let start = ContinuousClock.now + .seconds(3600)
        let queue = JobQueue(jobs: jobs, limit: nil, deadline: start + .milliseconds(35), repeating: true,
                             pace: (start, .milliseconds(10)))
        var due: [Duration] = []
        while let next = queue.takeScheduled() { due.append(try XCTUnwrap(next.due) - start) }
        XCTAssertEqual(due, [.zero, .milliseconds(10), .milliseconds(20), .milliseconds(30)],
                       "job n is due at n × 10 ms; the one due at 40 ms is past the deadline")
    }

    func testStopsAtTheDeadline() {
        let queue = JobQueue(jobs: jobs, limit: nil, deadline: ContinuousClock.now - .seconds(1))
        XCTAssertNil(queue.take())
        XCTAssertEqual(queue.stopReason(), .duration)
    }

    func testConcurrentTakersShareTheJobs() async {
        let many = (0..<2000).map { LeaveJob(roomID: "!r:x", userID: "@u\($0):y", server: "y") }
        let queue = JobQueue(jobs: many, limit: nil, deadline: nil)
        let taken = await withTaskGroup(of: [String].self) { group in
            for _ in 0..<8 {
                group.addTask {
                    var mine: [String] = []
                    while let job = queue.take() { mine.append(job.userID) }
                    return mine
                }
            }
            return await group.reduce(into: []) { $0 += $1 }
        }
        XCTAssertEqual(taken.count, 2000)
        XCTAssertEqual(Set(taken).count, 2000)
    }
}
