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
/// order requests started: the pending ones are a list in that order, and the timer sleeps until
/// the oldest one (under load, about once per `limit`) instead of each request starting and
/// cancelling a timer. A request that finishes leaves the list at once, wherever it is in it, so
/// the list holds the requests in flight — not, behind one slow request, every request since.
final class RequestDeadline: Sendable {
    let limit: Duration
    private let state = Mutex(Pending())

    /// The requests in flight, linked oldest to newest through reusable slots, and whether the
    /// timer task runs.
    private struct Pending {
        struct Slot {
            var scope: DeadlineScope?
            var older = -1
            var newer = -1
        }

        /// The slots, as many as requests were ever in flight at once; a free one is reused.
        var slots: [Slot] = []
        var freeSlots: [Int] = []
        var oldest = -1
        var newest = -1
        var count = 0
        var timerRunning = false

        /// Appends `scope` as the newest; returns its slot.
        mutating func append(_ scope: DeadlineScope) -> Int {
            let slot = Slot(scope: scope, older: newest)
            let index: Int
            if let free = freeSlots.popLast() {
                slots[free] = slot
                index = free
            } else {
                slots.append(slot)
                index = slots.count - 1
            }
            if newest >= 0 { slots[newest].newer = index } else { oldest = index }
            newest = index
            count += 1
            return index
        }

        /// Takes `scope` out of `index`, unless the timer already did (and the slot was reused).
        mutating func remove(_ scope: DeadlineScope, at index: Int) {
            guard slots[index].scope === scope else { return }
            let slot = slots[index]
            if slot.older >= 0 { slots[slot.older].newer = slot.newer } else { oldest = slot.newer }
            if slot.newer >= 0 { slots[slot.newer].older = slot.older } else { newest = slot.older }
            slots[index] = Slot()
            freeSlots.append(index)
            count -= 1
        }

        /// Takes out the oldest requests whose deadline is `now` or earlier.
        mutating func takeExpired(at now: ContinuousClock.Instant) -> [DeadlineScope] {
            var expired: [DeadlineScope] = []
            while oldest >= 0, let scope = slots[oldest].scope, scope.deadline <= now {
                expired.append(scope)
                remove(scope, at: oldest)
            }
            return expired
        }
    }

    init(limit: Duration) {
        self.limit = limit
    }

    /// The requests the timer watches: those in flight (for the tests).
    var pendingCount: Int { state.withLock { $0.count } }

    /// `work`'s result, or nil if the deadline passed first (its waits were then cut short, and
    /// whatever it returned after is dropped).
    func run<T: Sendable>(_ work: () async -> T) async -> T? {
        let scope = DeadlineScope(deadline: .now + limit)
        let slot = watch(scope)
        let value = await DeadlineScope.$current.withValue(scope) { await work() }
        let expired = scope.finish()
        state.withLock { $0.remove(scope, at: slot) }
        return expired ? nil : value
    }

    private func watch(_ scope: DeadlineScope) -> Int {
        let (slot, startTimer) = state.withLock { pending in
            defer { pending.timerRunning = true }
            return (pending.append(scope), !pending.timerRunning)
        }
        if startTimer { DeadlineScope.outsideAnyRequest { _ = Task { await self.expireUntilIdle() } } }
        return slot
    }

    /// The timer: expires what is due, sleeps until the oldest pending deadline, and ends when
    /// nothing is pending (the next request starts it again).
    private func expireUntilIdle() async {
        while true {
            let (expired, next) = state.withLock { pending in
                let expired = pending.takeExpired(at: .now)
                let next = pending.oldest >= 0 ? pending.slots[pending.oldest].scope?.deadline : nil
                if next == nil { pending.timerRunning = false }
                return (expired, next)
            }
            for scope in expired { scope.expire() }
            guard let next else { return }
            try? await Task.sleep(until: next, clock: .continuous)
        }
    }
}
