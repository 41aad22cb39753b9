import Synchronization

/// The bound on the work of one request: the answer goes out at the deadline even if the work has
/// not noticed its cancellation yet (a database call finishes on its own queue, bounded by the
/// statement timeout; a leave it stores anyway answers 200 to the retry).
///
/// Each request's work runs in one task; the deadlines of all requests are watched by one shared
/// timer task. Every request gets the same `limit`, so deadlines fall in the order requests
/// started: the pending ones are a queue, and the timer sleeps until the oldest unanswered one
/// (under load, about once per `limit`) instead of each request starting and cancelling a timer.
final class RequestDeadline: Sendable {
    let limit: Duration
    private let state = Mutex(Pending())

    /// The requests not yet known to be answered, oldest first, and whether the timer task runs.
    private struct Pending {
        var queue: [Watched] = []
        /// Index of the oldest entry in `queue` (the ones before it are done with).
        var head = 0
        var timerRunning = false

        /// Drops the answered requests at the head; returns the expired ones behind them
        /// (when `now` is given), taken out of the queue.
        mutating func prune(expiredAt now: ContinuousClock.Instant?) -> [any Expiring] {
            var expired: [any Expiring] = []
            while head < queue.count {
                let entry = queue[head]
                if entry.race.isAnswered {
                    head += 1
                } else if let now, entry.deadline <= now {
                    expired.append(entry.race)
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

    private struct Watched {
        let deadline: ContinuousClock.Instant
        let race: any Expiring
    }

    init(limit: Duration) {
        self.limit = limit
    }

    /// `work`'s result, or nil if it was not ready within `limit` (then `work` is cancelled).
    func run<T: Sendable>(_ work: @escaping @Sendable () async -> T) async -> T? {
        await withCheckedContinuation { (continuation: CheckedContinuation<T?, Never>) in
            let race = Race(continuation)
            race.started(Task {
                race.answer(await work())
            })
            watch(race)
        }
    }

    private func watch(_ race: any Expiring) {
        let startTimer = state.withLock { pending in
            _ = pending.prune(expiredAt: nil)
            pending.queue.append(Watched(deadline: .now + limit, race: race))
            defer { pending.timerRunning = true }
            return !pending.timerRunning
        }
        if startTimer { Task { await self.expireUntilIdle() } }
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
            for race in expired { race.expire() }
            guard let next else { return }
            try? await Task.sleep(until: next, clock: .continuous)
        }
    }
}

/// A request the deadline watches: answered by its work, or expired by the timer.
private protocol Expiring: Sendable {
    var isAnswered: Bool { get }
    func expire()
}

/// Who answers the caller first: the work or the timer. Exactly one resumes it, once.
private final class Race<T: Sendable>: Expiring {
    private struct Waiting {
        var caller: CheckedContinuation<T?, Never>?
        var work: Task<Void, Never>?
        var expired = false
    }

    private let waiting: Mutex<Waiting>

    init(_ caller: CheckedContinuation<T?, Never>) {
        waiting = Mutex(Waiting(caller: caller))
    }

    var isAnswered: Bool { waiting.withLock { $0.caller == nil } }

    /// Records the work's task, so that expiring cancels it (at once if the timer came first).
    func started(_ work: Task<Void, Never>) {
        let expired = waiting.withLock { waiting in
            waiting.work = waiting.caller == nil ? nil : work
            return waiting.expired
        }
        if expired { work.cancel() }
    }

    func answer(_ value: T) {
        let caller = waiting.withLock { waiting in
            defer { (waiting.caller, waiting.work) = (nil, nil) }
            return waiting.caller
        }
        caller?.resume(returning: value)
    }

    func expire() {
        let (caller, work) = waiting.withLock { waiting in
            let taken = (waiting.caller, waiting.work)
            if taken.0 != nil { waiting.expired = true }
            (waiting.caller, waiting.work) = (nil, nil)
            return taken
        }
        work?.cancel()
        caller?.resume(returning: nil)
    }
}
