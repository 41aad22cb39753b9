import Synchronization

/// The bound on the work of one request: the answer goes out at the deadline even if the work has
/// not noticed its cancellation yet (a database call finishes on its own queue, bounded by the
/// statement timeout; a leave it stores anyway answers 200 to the retry).
enum RequestDeadline {
    /// Who is still waiting: the caller (until the work or the timer answers it) and the timer
    /// (until the work finishes first and cancels it, so no timer outlives its request).
    private final class Race<T: Sendable>: Sendable {
        struct Waiting {
            var caller: CheckedContinuation<T?, Never>?
            var timer: Task<Void, Never>?
        }

        let waiting: Mutex<Waiting>

        init(_ caller: CheckedContinuation<T?, Never>) {
            waiting = Mutex(Waiting(caller: caller))
        }

        func withLock<R: Sendable>(_ body: (inout Waiting) -> R) -> R {
            waiting.withLock { body(&$0) }
        }
    }

    /// `work`'s result, or nil if it was not ready within `limit` (then `work` is cancelled).
    static func run<T: Sendable>(within limit: Duration, _ work: @escaping @Sendable () async -> T) async -> T? {
        await withCheckedContinuation { (continuation: CheckedContinuation<T?, Never>) in
            let race = Race(continuation)
            let task = Task {
                let value = await work()
                let (caller, timer) = race.withLock { race in
                    defer { (race.caller, race.timer) = (nil, nil) }
                    return (race.caller, race.timer)
                }
                timer?.cancel()
                caller?.resume(returning: value)
            }
            let timer = Task {
                try? await Task.sleep(for: limit)
                guard !Task.isCancelled, let caller = race.withLock({ race in
                    defer { race.caller = nil }
                    return race.caller
                }) else { return }
                task.cancel()
                caller.resume(returning: nil)
            }
            race.withLock { race in
                if race.caller == nil { timer.cancel() } else { race.timer = timer }
            }
        }
    }
}
