import Dispatch
import Synchronization

/// The bound on the work of one request: the answer goes out at the deadline even if the work has
/// not noticed its cancellation yet (a database call finishes on its own queue, bounded by the
/// statement timeout; a leave it stores anyway answers 200 to the retry).
enum RequestDeadline {
    /// `work`'s result, or nil if it was not ready within `limit` (then `work` is cancelled).
    static func run<T: Sendable>(within limit: Duration, _ work: @escaping @Sendable () async -> T) async -> T? {
        await withCheckedContinuation { (continuation: CheckedContinuation<T?, Never>) in
            let waiting = Mutex<CheckedContinuation<T?, Never>?>(continuation)
            let finish: @Sendable (T?) -> Bool = { value in
                guard let continuation = waiting.withLock({ $0.take() }) else { return false }
                continuation.resume(returning: value)
                return true
            }
            let task = Task { _ = finish(await work()) }
            DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(Int(clamping: limit.saturatingNanoseconds))) {
                if finish(nil) { task.cancel() }
            }
        }
    }
}

extension Duration {
    /// Whole nanoseconds, saturating at the bounds of `Int64`.
    var saturatingNanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? .min : .max }
        let (sum, sumOverflow) = scaled.addingReportingOverflow(attoseconds / 1_000_000_000)
        return sumOverflow ? (scaled < 0 ? .min : .max) : sum
    }
}
