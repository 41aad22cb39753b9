import Postgres

/// Bounded retry for statements that may lose a race through no fault of their own: serialization
/// failures, deadlocks, and a connection lost mid-call (only for idempotent statements — the leave
/// transaction is: a retry of a committed leave answers `.alreadyStored`).
public struct RetryPolicy: Sendable {
    /// Total tries, the first included.
    public var maxAttempts: Int
    /// Upper bound of the random pause before the first retry; doubled for each further one.
    public var firstPause: Duration

    public init(maxAttempts: Int = 4, firstPause: Duration = .milliseconds(5)) {
        self.maxAttempts = max(1, maxAttempts)
        self.firstPause = firstPause
    }

    public static let `default` = RetryPolicy()

    /// Whether another try may succeed. Pool exhaustion and failed connects are not retried here:
    /// the pool already waited, and a server that refuses connections will not come back in milliseconds.
    static func isRetryable(_ error: PostgresError) -> Bool {
        error.isSerializationFailure || error.isDeadlock || error.kind == .connectionLost
    }

    /// Runs `body` until it succeeds, fails with a non-retryable error (rethrown as is) or runs out of
    /// attempts (`StorageError.contended`).
    func run<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        var attempt = 1
        var pause = firstPause
        while true {
            do {
                return try await body()
            } catch let error as PostgresError where Self.isRetryable(error) {
                guard attempt < maxAttempts else {
                    throw StorageError.contended(attempts: attempt, lastError: error.description)
                }
                try await Task.sleep(for: pause * Double.random(in: 0...1))
                attempt += 1
                pause *= 2
            }
        }
    }
}
