import Dispatch
import Synchronization

/// A fixed set of lazily opened connections, each owned by its own serial DispatchQueue. Async callers
/// borrow one, their closure runs on its queue (blocking libpq calls never touch the caller's thread or
/// an event loop) and they resume through a continuation. Waiting for a free connection is bounded.
public final class PostgresPool: Sendable {
    public let configuration: PostgresConfiguration
    private let slots: [ConnectionSlot]
    private let state: Mutex<PoolState>

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
        let index = try await acquire()
        let slot = slots[index]
        let result: Result<T, any Error> = await withUnsafeContinuation { continuation in
            slot.queue.async {
                let outcome = slot.run(body, configuration: self.configuration)
                // Hand the slot on before resuming our caller, so a waiter starts without delay.
                self.release(index, isConnected: outcome.isConnected)
                continuation.resume(returning: outcome.result)
            }
        }
        return try result.get()
    }

    /// True if `SELECT 1` answers within `timeout` (including any wait for a connection).
    public func isHealthy(timeout: Duration) async -> Bool {
        await withCheckedContinuation { continuation in
            let answer = ResumeOnce(continuation)
            Task {
                let healthy = (try? await self.withConnection { try $0.query("SELECT 1").rowCount == 1 }) ?? false
                answer.resume(healthy)
            }
            DispatchQueue.global().asyncAfter(deadline: .now() + timeout.dispatchInterval) {
                answer.resume(false)
            }
        }
    }

    public var statistics: PoolStatistics {
        state.withLock { $0.statistics }
    }

    /// Refuses new borrowers, fails waiting ones with `.poolClosed`, waits for borrowed connections to
    /// come back, then closes every connection.
    public func close() async {
        let waiters = state.withLock { $0.close() }
        for waiter in waiters {
            waiter.resume(throwing: PostgresError(kind: .poolClosed, message: "the connection pool was closed"))
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

    private func acquire() async throws -> Int {
        let first = state.withLock { state -> Acquisition in
            if state.isClosed { return .closed }
            if let slot = state.takeIdle() { return .slot(slot) }
            return .wait(ticket: state.waiters.nextTicket())
        }
        switch first {
        case .slot(let index):
            return index
        case .closed:
            throw PostgresError(kind: .poolClosed, message: "the connection pool is closed")
        case .wait(let ticket):
            return try await wait(ticket: ticket)
        }
    }

    private func wait(ticket: UInt64) async throws -> Int {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: WaiterQueue.Continuation) in
                // Cancellation sets the flag before running onCancel, and both sides take the lock:
                // either we see the flag here, or onCancel finds the queued waiter.
                let deadline = DispatchTime.now() + configuration.acquireTimeout.dispatchInterval
                let registration = state.withLock { state -> Registration in
                    if state.isClosed { return .closed }
                    if let slot = state.takeIdle() { return .slot(slot) }
                    if Task.isCancelled { return .cancelled }
                    return .queued(checkExpiryAt: state.enqueue(ticket, continuation, deadline: deadline))
                }
                switch registration {
                case .slot(let index):
                    continuation.resume(returning: index)
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

    /// Fails the waiter holding `ticket` if it is still waiting (whoever removes a waiter resumes it, once).
    private func cancelWaiter(_ ticket: UInt64) {
        state.withLock { $0.waiters.remove(ticket) }?.resume(throwing: CancellationError())
    }

    /// One pending check at a time, at the first waiter's deadline: waiters all wait equally long, so
    /// one timer covers them all (rather than one timer per waiter under load).
    private func scheduleExpiry(at deadline: DispatchTime) {
        DispatchQueue.global().asyncAfter(deadline: deadline) {
            let (expired, next) = self.state.withLock { $0.expireWaiters(now: .now()) }
            for waiter in expired { waiter.resume(throwing: self.exhaustedError()) }
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
            waiter.resume(returning: index)
        case .idle(let closeWaiters):
            closeWaiters.forEach { $0.resume() }
        }
    }
}
