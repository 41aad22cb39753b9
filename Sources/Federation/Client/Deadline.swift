import Synchronization
import WorkDeadline

/// Thrown by ``withDeadline(_:operation:)`` when the operation took too long.
struct DeadlineExceeded: Error {}

/// Runs `operation` in a task of its own and answers with its result, or throws
/// ``DeadlineExceeded`` when `timeout` has passed — then, not when the operation ends: it is
/// cancelled and whatever it returns later is ignored. (A task group waits for every child, so an
/// operation that does not stop when cancelled — a look-up blocked in the system resolver — held
/// its caller past the timeout.) The caller's cancellation cancels the operation; the timeout
/// still bounds the wait.
func withDeadline<T: Sendable>(
    _ timeout: Duration, operation: @escaping @Sendable () async throws -> T
) async throws -> T {
    let work = CancellableTask()
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let resume = FirstResume(continuation)
            let timer = Task {
                do { try await Task.sleep(for: timeout) } catch { return }
                resume.resume(throwing: DeadlineExceeded())
                work.cancel()
            }
            work.start(Task {
                do {
                    resume.resume(returning: try await operation())
                } catch {
                    resume.resume(throwing: error)
                }
                timer.cancel()
            })
        }
    } onCancel: {
        work.cancel()
    }
}

/// A task to cancel, possibly before it has started (it is then cancelled when it starts).
private final class CancellableTask: Sendable {
    private let state = Mutex<(task: Task<Void, Never>?, cancelled: Bool)>((nil, false))

    func start(_ task: Task<Void, Never>) {
        if state.withLock({ state in state.task = task; return state.cancelled }) { task.cancel() }
    }

    func cancel() {
        state.withLock { state in
            state.cancelled = true
            return state.task
        }?.cancel()
    }
}
