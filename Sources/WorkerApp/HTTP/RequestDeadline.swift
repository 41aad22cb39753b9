import Synchronization
import WorkDeadline

/// The bound on the work of one request: the answer goes out at the deadline even if the work is
/// still waiting — for a connection, for its statement (which finishes on its own queue, bounded by
/// the statement timeout), for the leave batcher (a leave it stores anyway answers 200 to the
/// retry), for a shared key fetch.
///
/// The work runs on the request's own task, within a ``DeadlineScope`` every wait inside it
/// registers with (``DeadlineScope/wait(onExpiry:_:)``); at the deadline the scope cuts those waits
/// short and the request answers 503. (It was a task per request raced against the timer: ≈ 0.015
/// ms of worker CPU per request, 36 mallocs and one context switch per request — PERFORMANCE.md,
/// ninth pass.) The deadlines of all requests are
/// watched by one shared timer task. Every request gets the same `limit`, so deadlines fall in the
/// order requests started: the pending ones are a queue, and the timer sleeps until the oldest
/// unfinished one (under load, about once per `limit`) instead of each request starting and
/// cancelling a timer.
final class RequestDeadline: Sendable {
    let limit: Duration
    private let state = Mutex(Pending())

    /// The requests not yet known to be finished, oldest first, and whether the timer task runs.
    private struct Pending {
        var queue: [DeadlineScope] = []
        /// Index of the oldest entry in `queue` (the ones before it are done with).
        var head = 0
        var timerRunning = false

        /// Drops the finished requests at the head; returns the expired ones behind them (when
        /// `now` is given), taken out of the queue.
        mutating func prune(expiredAt now: ContinuousClock.Instant?) -> [DeadlineScope] {
            var expired: [DeadlineScope] = []
            while head < queue.count {
                let scope = queue[head]
                if scope.isFinished {
                    head += 1
                } else if let now, scope.deadline <= now {
                    expired.append(scope)
                    head += 1
                } else {
                    break
                }
            }
            if head == queue.count {
                queue.removeAll(keepingCapacity: true)
                head = 0
            } else if head > 64, head * 2 > queue.count {
                queue.removeFirst(head)
                head = 0
            }
            return expired
        }
    }

    init(limit: Duration) {
        self.limit = limit
    }

    /// `work`'s result, or nil if the deadline passed first (its waits were then cut short, and
    /// whatever it returned after is dropped).
    func run<T: Sendable>(_ work: () async -> T) async -> T? {
        let scope = DeadlineScope(deadline: .now + limit)
        watch(scope)
        let value = await DeadlineScope.$current.withValue(scope) { await work() }
        return scope.finish() ? nil : value
    }

    private func watch(_ scope: DeadlineScope) {
        let startTimer = state.withLock { pending in
            _ = pending.prune(expiredAt: nil)
            pending.queue.append(scope)
            defer { pending.timerRunning = true }
            return !pending.timerRunning
        }
        if startTimer { DeadlineScope.outsideAnyRequest { _ = Task { await self.expireUntilIdle() } } }
    }

    /// The timer: expires what is due, sleeps until the oldest unanswered deadline, and ends when
    /// nothing is pending (the next request starts it again).
    private func expireUntilIdle() async {
        while true {
            let (expired, next) = state.withLock { pending in
                let expired = pending.prune(expiredAt: .now)
                let next = pending.head < pending.queue.count ? pending.queue[pending.head].deadline : nil
                if next == nil { pending.timerRunning = false }
                return (expired, next)
            }
            for scope in expired { scope.expire() }
            guard let next else { return }
            try? await Task.sleep(until: next, clock: .continuous)
        }
    }
}
