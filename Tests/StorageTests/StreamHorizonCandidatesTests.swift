import Storage
import XCTest

/// The safe point's bookkeeping without a database: which candidates a later read promotes.
final class StreamHorizonCandidatesTests: XCTestCase {
    func testNobodyWritingMakesThePositionSafeAtOnce() {
        var candidates = StreamHorizonCandidates()
        candidates.record(position: 7, writers: [])
        XCTAssertEqual(candidates.safePosition, 7)
        XCTAssertEqual(candidates.pending, [])
    }

    func testAPositionWaitsUntilALaterReadNoLongerListsItsWriters() {
        var candidates = StreamHorizonCandidates(safePosition: 3)
        candidates.record(position: 10, writers: ["3/17", "4/2"])
        XCTAssertEqual(candidates.safePosition, 3, "its own read's writers are still running")
        candidates.record(position: 12, writers: ["4/2", "5/9"])
        XCTAssertEqual(candidates.safePosition, 3, "4/2 is still writing")
        XCTAssertEqual(candidates.pending.map(\.position), [10, 12])
        candidates.record(position: 12, writers: ["5/9"])
        XCTAssertEqual(candidates.safePosition, 10, "3/17 and 4/2 ended; 12 still waits for 5/9")
        XCTAssertEqual(candidates.pending.map(\.position), [12])
        candidates.record(position: 15, writers: ["6/1"])
        XCTAssertEqual(candidates.safePosition, 12)
        XCTAssertEqual(candidates.pending.map(\.position), [15])
        XCTAssertEqual(candidates.pending.first?.writers, ["6/1"])
    }

    func testALongWriterHoldsBackEveryCandidateUntilItEnds() {
        var candidates = StreamHorizonCandidates()
        candidates.record(position: 5, writers: ["1/1", "2/1"])   // 1/1: a long writer
        candidates.record(position: 8, writers: ["1/1", "3/1"])
        candidates.record(position: 9, writers: ["1/1", "3/1", "4/1"])
        XCTAssertEqual(candidates.safePosition, 0, "1/1 is listed by every read")
        candidates.record(position: 10, writers: ["3/1", "4/1"])
        XCTAssertEqual(candidates.safePosition, 5, "1/1 and 2/1 ended; 8 and 9 wait for 3/1")
        candidates.record(position: 10, writers: ["4/1"])
        XCTAssertEqual(candidates.safePosition, 8)
        XCTAssertEqual(candidates.pending.map(\.position), [9, 10])
    }

    func testTheSafePointNeverGoesBack() {
        var candidates = StreamHorizonCandidates(safePosition: 20)
        candidates.record(position: 11, writers: [])
        XCTAssertEqual(candidates.safePosition, 20)
        candidates.record(position: 18, writers: ["1/1"])
        XCTAssertEqual(candidates.pending, [], "at or below the safe point: nothing to wait for")
        candidates.record(position: 25, writers: ["1/1"])
        candidates.record(position: 25, writers: [])
        XCTAssertEqual(candidates.safePosition, 25)
    }

    /// A position is safe only once the WAL recording it is on disk (sql/0026): a crash could
    /// otherwise take it back and hand it out again.
    func testAPositionWaitsForTheWALRecordingItToBeFlushed() {
        var candidates = StreamHorizonCandidates(safePosition: 2)
        candidates.record(position: 7, writers: [], walInserted: 100, walFlushed: 90)
        XCTAssertEqual(candidates.safePosition, 2, "nobody writes, but its WAL is not flushed yet")
        XCTAssertEqual(candidates.walNeeded, 100)
        candidates.record(position: 9, writers: ["1/1"], walInserted: 130, walFlushed: 99)
        XCTAssertEqual(candidates.safePosition, 2)
        XCTAssertEqual(candidates.walNeeded, 130)
        candidates.record(position: 9, writers: [], walInserted: 140, walFlushed: 100)
        XCTAssertEqual(candidates.safePosition, 7, "7's WAL flushed; 9's (130) not yet")
        candidates.record(position: 9, writers: [], walInserted: 140, walFlushed: 140)
        XCTAssertEqual(candidates.safePosition, 9)
        XCTAssertEqual(candidates.walNeeded, 0)
    }

    /// After a restart WAL positions are those of another history: candidates read before it are
    /// dropped, never promoted by the new server's flushes; the safe point stays (it was on disk).
    func testCandidatesOfAServerThatRestartedAreDropped() {
        var candidates = StreamHorizonCandidates(safePosition: 4)
        candidates.record(position: 10, writers: ["3/1"], walInserted: 500, walFlushed: 400, serverStarted: 1)
        XCTAssertEqual(candidates.pending.map(\.position), [10])
        candidates.record(position: 6, writers: ["3/2"], walInserted: 700, walFlushed: 700, serverStarted: 2)
        XCTAssertEqual(candidates.safePosition, 4, "10 came from before the restart")
        XCTAssertEqual(candidates.pending.map(\.position), [6])
        candidates.record(position: 8, writers: [], walInserted: 720, walFlushed: 720, serverStarted: 2)
        XCTAssertEqual(candidates.safePosition, 8)
    }

    func testALongWriterKeepsOnlyTheNewestCandidates() {
        var candidates = StreamHorizonCandidates()
        let count = StreamHorizonCandidates.maximumPending + 10
        for position in 1...Int64(count) {
            candidates.record(position: position, writers: ["1/1", "\(position + 1)/1"])
        }
        XCTAssertEqual(candidates.pending.count, StreamHorizonCandidates.maximumPending)
        XCTAssertEqual(candidates.pending.first?.position, Int64(count - StreamHorizonCandidates.maximumPending + 1))
        candidates.record(position: Int64(count), writers: ["\(count + 1)/1"])
        XCTAssertEqual(candidates.safePosition, Int64(count - 1), "the long writer ended: all but the newest promoted")
    }
}
