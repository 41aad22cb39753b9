import Dispatch
import Synchronization

/// A fixed set of lazily opened connections, each owned by its own serial DispatchQueue. Async callers
/// borrow one, their closure runs on its queue (blocking libpq calls never touch the caller's thread or
/// an event loop) and they resume through a continuation. Waiting for a free connection is bounded.
public final class PostgresPool: Sendable {
    public let configuration: PostgresConfiguration
    private let slots: [ConnectionSlot]
    private let state: Mutex<PoolState>
    private let probe = HealthProbe()

    /// Connects lazily: no connection is opened until the first borrow needs one.
    public init(configuration: PostgresConfiguration) {
        self.configuration = configuration
        let size = max(1, configuration.poolSize)
        slots = (0..<size).map { ConnectionSlot(index: $0) }
        state = Mutex(PoolState(size: size))
    }

    /// Borrows a connection (waiting at most `acquireTimeout`, else `.poolExhausted`), runs `body` on that
    /// connection's serial DispatchQueue, and returns its result. A connection that broke (or was found
    /// closed by the server while idle) is replaced on next use; one left inside a transaction is rolled back.
    public func withConnection<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) throws -> T) async throws -> T {
        let first = state.withLock { state -> Acquisition in
            if state.isClosed { return .closed }
            if let slot = state.takeIdle() { return .slot(slot) }
            return .wait(ticket: state.waiters.nextTicket())
        }
        switch first {
        case .slot(let index):
            return try await withCheckedThrowingContinuation { continuation in
                run(body, on: index, resuming: continuation)
            }
        case .closed:
            throw PostgresError(kind: .poolClosed, message: "the connection pool is closed")
        case .wait(let ticket):
            return try await wait(ticket: ticket, body)
        }
    }

    /// True if `SELECT 1` answers within `timeout` on a reserved connection outside the pool (one
    /// more connection than `poolSize`, opened on first use): a busy pool is not an unready database.
    public func isHealthy(timeout: Duration) async -> Bool {
        if state.withLock({ $0.isClosed }) { return false }
        return await probe.check(configuration: configuration, timeout: timeout)
    }

    public var statistics: PoolStatistics {
        state.withLock { $0.statistics }
    }

    /// Refuses new borrowers, fails waiting ones with `.poolClosed`, waits for borrowed connections to
    /// come back, then closes every connection.
    public func close() async {
        let waiters = state.withLock { $0.close() }
        for waiter in waiters {
            waiter.fail(PostgresError(kind: .poolClosed, message: "the connection pool was closed"))
        }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            if !state.withLock({ $0.waitUntilQuiet(continuation) }) { continuation.resume() }
        }
        for slot in slots {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                slot.queue.async {
                    slot.close()
                    continuation.resume()
                }
            }
        }
        await probe.close()
        state.withLock { $0.forgetConnections() }
    }

    // MARK: - Borrowing

    private enum Acquisition {
        case slot(Int)
        case wait(ticket: UInt64)
        case closed
    }

    private enum Registration {
        case slot(Int)
        case queued(checkExpiryAt: DispatchTime?)
        case closed
        case cancelled
    }

    /// Queues `body` as a waiter: the connection that frees up first runs it straight away on its own
    /// queue (no hop back through the caller's executor), unless the wait expires or is cancelled first.
    private func wait<T: Sendable>(ticket: UInt64, _ body: @escaping @Sendable (PostgresConnection) throws -> T) async throws -> T {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
                let waiter = PoolWaiter(
                    start: { index in self.run(body, on: index, resuming: continuation) },
                    fail: { error in continuation.resume(throwing: error) })
                // Cancellation sets the flag before running onCancel, and both sides take the lock:
                // either we see the flag here, or onCancel finds the queued waiter.
                let deadline = DispatchTime.now() + configuration.acquireTimeout.dispatchInterval
                let registration = state.withLock { state -> Registration in
                    if state.isClosed { return .closed }
                    if let slot = state.takeIdle() { return .slot(slot) }
                    if Task.isCancelled { return .cancelled }
                    return .queued(checkExpiryAt: state.enqueue(ticket, waiter, deadline: deadline))
                }
                switch registration {
                case .slot(let index):
                    run(body, on: index, resuming: continuation)
                case .closed:
                    continuation.resume(throwing: PostgresError(kind: .poolClosed, message: "the connection pool is closed"))
                case .cancelled:
                    continuation.resume(throwing: CancellationError())
                case .queued(let checkExpiryAt):
                    if let checkExpiryAt { scheduleExpiry(at: checkExpiryAt) }
                }
            }
        } onCancel: {
            cancelWaiter(ticket)
        }
    }

    /// Runs `body` on slot `index`'s queue, hands the slot on, then resumes the borrower.
    private func run<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) throws -> T, on index: Int,
                                  resuming continuation: CheckedContinuation<T, any Error>) {
        let slot = slots[index]
        slot.queue.async {
            let outcome = slot.run(body, configuration: self.configuration)
            // Hand the slot on first: a waiter's body is queued right behind this block, on this queue.
            self.release(index, isConnected: outcome.isConnected)
            continuation.resume(with: outcome.result)
        }
    }

    /// Fails the waiter holding `ticket` if it is still waiting (whoever removes a waiter resumes it, once).
    private func cancelWaiter(_ ticket: UInt64) {
        state.withLock { $0.waiters.remove(ticket) }?.fail(CancellationError())
    }

    /// One pending check at a time, at the first waiter's deadline: waiters all wait equally long, so
    /// one timer covers them all (rather than one timer per waiter under load).
    private func scheduleExpiry(at deadline: DispatchTime) {
        DispatchQueue.global().asyncAfter(deadline: deadline) {
            let (expired, next) = self.state.withLock { $0.expireWaiters(now: .now()) }
            for waiter in expired { waiter.fail(self.exhaustedError()) }
            if let next { self.scheduleExpiry(at: next) }
        }
    }

    private func exhaustedError() -> PostgresError {
        PostgresError(kind: .poolExhausted,
                      message: "no database connection became free within \(configuration.acquireTimeout) (pool size \(slots.count))")
    }

    private func release(_ index: Int, isConnected: Bool) {
        switch state.withLock({ $0.release(index, isConnected: isConnected) }) {
        case .handOver(let waiter):
            waiter.start(index)
        case .idle(let closeWaiters):
            closeWaiters.forEach { $0.resume() }
        }
    }
}
