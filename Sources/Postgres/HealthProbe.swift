import Dispatch
import Synchronization
import WorkDeadline

/// The pool's readiness check: `SELECT 1` on one reserved connection of its own, outside the pool,
/// so a pool whose every connection is busy with real work does not make a healthy database look
/// down. Concurrent checks share the probe in flight, so a hung server costs one blocked queue, not
/// one per caller.
final class HealthProbe: Sendable {
    private let slot = ConnectionSlot(index: -1)
    /// Callers waiting for the probe in flight; empty when none is.
    private let waiting = Mutex<[FirstResume<Bool>]>([])

    /// True if the probe answers within `timeout`.
    func check(configuration: PostgresConfiguration, timeout: Duration) async -> Bool {
        // Nothing throws: every party answers with a Bool.
        (try? await withCheckedThrowingContinuation { continuation in
            let answer = FirstResume(continuation)
            let startsProbe = waiting.withLock { waiting in
                waiting.append(answer)
                return waiting.count == 1
            }
            if startsProbe {
                slot.queue.async {
                    let outcome = self.slot.run({ try $0.query("SELECT 1").rowCount == 1 }, configuration: configuration)
                    let healthy = (try? outcome.result.get()) ?? false
                    let waiters = self.waiting.withLock { waiting in
                        defer { waiting = [] }
                        return waiting
                    }
                    for waiter in waiters { waiter.resume(returning: healthy) }
                }
            }
            DispatchQueue.global().asyncAfter(deadline: .now() + timeout.dispatchInterval) { answer.resume(returning: false) }
        }) ?? false
    }

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
