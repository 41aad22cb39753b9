import Postgres
@testable import Storage
import TestSupport
import XCTest

/// `StreamNotifier` coalesces: however often events are announced, a NOTIFY goes out at most once
/// per its interval, each naming the highest position announced before it, the last one the last.
final class StreamNotifierTests: XCTestCase {
    /// 100 announcements 5 ms apart (at least 0.5 s), a 100 ms interval: at most one NOTIFY per
    /// started 100 ms plus the first, in ascending order, ending with position 100. Without the
    /// interval (one NOTIFY in flight only) nearly every announcement was its own NOTIFY.
    func testNotificationsAreSpacedByTheMinimumInterval() async throws {
        let pool = try await StorageFixture.migratedPool(prefix: "stream_notifier")
        var stream = try await StorageFixture.listening(pool)
        defer { stream.stop() }

        let notifier = StreamNotifier(pool: pool, minimumInterval: .milliseconds(100))
        let started = ContinuousClock.now
        for position in Int64(1)...100 {
            notifier.announce(StreamNotification(streamPosition: position, roomID: "!r:x", eventID: "$e\(position)"))
            try await Task.sleep(for: .milliseconds(5))
        }
        let elapsed = ContinuousClock.now - started
        var received: [Int64] = []
        while received.last != 100 {
            guard case .notification(let next)? = await stream.events.next() else { return XCTFail("no notification for position 100") }
            received.append(try XCTUnwrap(StreamNotification(payload: next.payload)).streamPosition)
        }
        XCTAssertEqual(received, received.sorted())
        XCTAssertLessThanOrEqual(received.count, Int(elapsed / .milliseconds(100)) + 2, "\(received)")
        await pool.close()
    }
}
