import Synchronization

/// A continuation several parties may race to resume — the awaited event, the deadline, a
/// timeout — of which only the first resumes it.
public final class FirstResume<Value: Sendable>: Sendable {
    private let continuation: Mutex<CheckedContinuation<Value, any Error>?>

    public init(_ continuation: CheckedContinuation<Value, any Error>) {
        self.continuation = Mutex(continuation)
    }

    public func resume(with result: Result<Value, any Error>) {
        continuation.withLock { pending in
            defer { pending = nil }
            return pending
        }?.resume(with: result)
    }

    /// True once someone resumed it (a waiter that is no longer waited for need not start).
    public var isResumed: Bool { continuation.withLock { $0 == nil } }

    public func resume(returning value: Value) { resume(with: .success(value)) }

    public func resume(throwing error: any Error) { resume(with: .failure(error)) }
}

extension DeadlineScope {
    /// Waits for `start`'s continuation, or the current request's deadline (``current``), whichever
    /// comes first: at the deadline the wait ends with ``DeadlineExceeded`` and `onExpiry` runs (to
    /// take the waiter out of a queue, say); whatever resumes the continuation later is ignored.
    /// Outside any request, a plain wait.
    public static func wait<T: Sendable>(
        onExpiry: @escaping @Sendable () -> Void = {}, _ start: (FirstResume<T>) -> Void
    ) async throws -> T {
        guard let scope = current else {
            return try await withCheckedThrowingContinuation { start(FirstResume($0)) }
        }
        var registered: UInt64?
        defer { if let registered { scope.leave(registered) } }
        return try await withCheckedThrowingContinuation { continuation in
            let resume = FirstResume(continuation)
            let entered = scope.enter {
                resume.resume(throwing: DeadlineExceeded())
                onExpiry()
            }
            guard let entered else { return resume.resume(throwing: DeadlineExceeded()) }
            registered = entered
            start(resume)
        }
    }

    /// `operation`, bounded by the current request's deadline: it runs in a task of its own
    /// (sharing the deadline), cancelled at the deadline while the request answers. For waits
    /// that cannot be cut short otherwise, off the hot path: it costs a task. Outside any
    /// request, `operation` itself.
    public static func bounded<T: Sendable>(_ operation: @escaping @Sendable () async throws -> T) async throws -> T {
        guard current != nil else { return try await operation() }
        let running = RunningTask()
        return try await wait(onExpiry: { running.cancel() }) { resume in
            running.set(Task {
                do {
                    resume.resume(returning: try await operation())
                } catch {
                    resume.resume(throwing: error)
                }
            })
        }
    }
}

/// The task `bounded` started, to cancel at the deadline (which may come before it is recorded:
/// then it starts under an expired deadline, and its own waits end at once).
private final class RunningTask: Sendable {
    private let task = Mutex<Task<Void, Never>?>(nil)

    func set(_ started: Task<Void, Never>) { task.withLock { $0 = started } }

    func cancel() { task.withLock { $0 }?.cancel() }
}
