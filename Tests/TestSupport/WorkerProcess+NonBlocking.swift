import Foundation

/// Waiting for a child process from async code without holding a cooperative thread.
///
/// The cooperative pool has one thread per core (two on the test machines). `WorkerProcess.run`
/// and `stop()` block until the child exits; called from an async test they hold one of those
/// threads, and with a few tests doing so at once nothing else in the test process runs — not the
/// simulated homeservers whose keys a `rooms import` child is fetching, nor the ones a worker is
/// forwarding to — until the child's own timeouts fire. These variants wait on a Dispatch thread.
extension WorkerProcess {
    /// ``run(_:environment:stdin:)``, awaited without blocking a cooperative thread.
    public static func runWithoutBlocking(_ arguments: [String], environment: [String: String], stdin: Data? = nil)
        async throws -> (status: Int32, stdout: String, stderr: String)
    {
        try await onDispatchThread { try run(arguments, environment: environment, stdin: stdin) }
    }

    /// ``stop()``, awaited without blocking a cooperative thread.
    @discardableResult
    public func stopWithoutBlocking() async -> Int32 {
        (try? await Self.onDispatchThread { self.stop() }) ?? -1
    }

    private static func onDispatchThread<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(with: Result { try work() }) }
        }
    }
}
