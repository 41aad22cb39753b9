import Dispatch
import Postgres

/// Locks taken by a test in an open transaction on one of its own connections and held until
/// `release()` — to make the worker's statements wait as they would behind a slow writer.
final class HeldLock: Sendable {
    private let releaseSignal = DispatchSemaphore(value: 0)
    private let holder: Task<Void, any Error>

    /// Runs `statements` in a transaction on `pool` and returns once they hold their locks.
    init(pool: PostgresPool, _ statements: [(sql: String, parameters: [PostgresValue])]) async throws {
        let releaseSignal = releaseSignal
        let (locked, lockedContinuation) = AsyncThrowingStream<Void, any Error>.makeStream()
        holder = Task {
            do {
                // Runs on the connection's own queue: blocking there until release holds no cooperative thread.
                try await pool.withConnection { connection in
                    try connection.execute(script: "BEGIN")
                    for statement in statements { _ = try connection.query(statement.sql, statement.parameters) }
                    lockedContinuation.yield()
                    releaseSignal.wait()
                    try connection.execute(script: "ROLLBACK")
                }
                lockedContinuation.finish()
            } catch {
                lockedContinuation.finish(throwing: error)
                throw error
            }
        }
        for try await _ in locked { return }
        throw RawConnectionError(description: "the lock was never taken")
    }

    /// Ends the transaction (rolling it back), releasing the locks.
    func release() async throws {
        releaseSignal.signal()
        try await holder.value
    }
}
