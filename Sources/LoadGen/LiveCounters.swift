import Synchronization

/// Counters the driver tasks bump as they go, read once a second by the progress line.
final class LiveCounters: Sendable {
    private let attemptedCount = Atomic<Int>(0)
    private let acceptedCount = Atomic<Int>(0)
    private let failedCount = Atomic<Int>(0)

    func attempted() { attemptedCount.add(1, ordering: .relaxed) }
    func accepted() { acceptedCount.add(1, ordering: .relaxed) }
    func failed() { failedCount.add(1, ordering: .relaxed) }

    var snapshot: (attempted: Int, accepted: Int, failed: Int) {
        (attemptedCount.load(ordering: .relaxed), acceptedCount.load(ordering: .relaxed),
         failedCount.load(ordering: .relaxed))
    }
}
