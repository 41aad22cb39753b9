import Dispatch
import Synchronization
import WorkDeadline

/// The pool's readiness check: `SELECT 1` on one reserved connection of its own, outside the pool
/// (and past a transaction pooler: `PostgresConfiguration.onSessionURL`), so a pool whose every
/// connection is busy with real work does not make a healthy database look down. Concurrent
/// checks share the probe in flight, so a hung server costs one blocked queue, not one per caller.
final class HealthProbe: Sendable {
    private let slot = ConnectionSlot(index: -1)
    /// Callers waiting for the probe in flight (each leaves at its timeout, so a probe hung on a
    /// vanished server does not collect every caller meanwhile), and whether one is in flight.
    private let state = Mutex<(waiting: [FirstResume<Bool>], inFlight: Bool)>(([], false))

    /// True if the probe answers within `timeout`.
    func check(configuration: PostgresConfiguration, timeout: Duration) async -> Bool {
        // Nothing throws: every party answers with a Bool.
        (try? await withCheckedThrowingContinuation { continuation in
            let answer = FirstResume(continuation)
            let startsProbe = state.withLock { state in
                state.waiting.append(answer)
                defer { state.inFlight = true }
                return !state.inFlight
            }
            if startsProbe {
                slot.queue.async {
                    let outcome = self.slot.run({ try $0.query("SELECT 1").rowCount == 1 }, configuration: configuration)
                    let healthy = (try? outcome.result.get()) ?? false
                    let waiters = self.state.withLock { state in
                        defer { state = ([], false) }
                        return state.waiting
                    }
                    for waiter in waiters { waiter.resume(returning: healthy) }
                }
            }
            DispatchQueue.global().asyncAfter(deadline: .now() + timeout.dispatchInterval) {
                // Out of the line first: a caller answered is never still counted as waiting.
                self.state.withLock { state in state.waiting.removeAll { $0 === answer } }
                answer.resume(returning: false)
            }
        }) ?? false
    }

    /// Callers waiting now (for tests).
    var waitingCount: Int { state.withLock { $0.waiting.count } }

    /// Closes the probe's connection once the probe in flight (if any) is done.
    func close() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            slot.queue.async {
                self.slot.close()
                continuation.resume()
            }
        }
    }
}
