import Dispatch
import Synchronization
import WorkDeadline

/// A fixed set of lazily opened connections, each owned by its own serial DispatchQueue. Async callers
/// borrow one, their closure runs on its queue (blocking libpq calls never touch the caller's thread or
/// an event loop) and they resume through a continuation. Waiting for a free connection is bounded.
///
/// Every decision (who gets which slot, who times out, back-off after failed connects, shutdown) is
/// `PoolStateMachine`'s; this type only carries its actions out: continuations, queues and timers.
/// A borrow costs one hop onto the connection's queue and one resume of the caller.
public final class PostgresPool: Sendable {
    public let configuration: PostgresConfiguration
    private let slots: [ConnectionSlot]
    private let state: Mutex<Locked>
    private let lastRequest = Atomic<UInt64>(0)
    private let probe = HealthProbe()

    /// The state machine and what carrying out its actions needs: the bodies of waiting borrowers
    /// and the `close()` callers (the machine itself knows only request IDs).
    private struct Locked {
        var machine: PoolStateMachine
        var waiting: [UInt64: PoolWaiter] = [:]
        var closeWaiters: [CheckedContinuation<Void, Never>] = []
    }

    /// Actions with the waiters they name taken out of `Locked.waiting` (under the lock), so
    /// exactly one party resumes each waiter, once.
    private struct Resolved {
        var actions: PoolStateMachine.Actions
        var starting: PoolWaiter?
        var failing: [(waiter: PoolWaiter, failure: PoolStateMachine.Failure)] = []
        var closers: [CheckedContinuation<Void, Never>] = []
    }

    /// Connects lazily: no connection is opened until the first borrow needs one.
    public init(configuration: PostgresConfiguration) {
        self.configuration = configuration
        let size = max(1, configuration.poolSize)
        slots = (0..<size).map { ConnectionSlot(index: $0) }
        state = Mutex(Locked(machine: PoolStateMachine(size: size)))
    }

    /// Borrows a connection (waiting at most `acquireTimeout`, else `.poolExhausted`), runs `body` on that
    /// connection's serial DispatchQueue, and returns its result. A connection that broke (or was found
    /// closed by the server while idle) is replaced on next use; one left inside a transaction is rolled back.
    /// While every connection failed to open and is backing off, borrowers fail at once with that error.
    ///
    /// Within a request's deadline (``DeadlineScope``), the borrower gives up at the deadline with
    /// ``DeadlineExceeded`` — taken out of the line if still waiting, or leaving its statement to
    /// finish on the connection's queue, bounded by `statement_timeout`, as a cancelled one does.
    public func withConnection<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) throws -> T) async throws -> T {
        let request = lastRequest.add(1, ordering: .relaxed).newValue
        return try await withTaskCancellationHandler {
            try await DeadlineScope.wait(onExpiry: { self.event { $0.cancelled(request) } }) { (continuation: FirstResume<T>) in
                let deadline = DispatchTime.now() + configuration.acquireTimeout.dispatchInterval
                // Cancellation sets the flag before running onCancel, and both take the lock: either
                // the flag is seen here, or onCancel finds the request queued. Likewise the deadline
                // resumes the borrower before its onExpiry takes the lock.
                let actions = state.withLock { state -> PoolStateMachine.Actions? in
                    if Task.isCancelled || continuation.isResumed { return nil }
                    let actions = state.machine.leaseRequested(request, deadline: deadline)
                    if actions.run == nil, actions.fail.isEmpty {
                        state.waiting[request] = PoolWaiter(
                            start: { slot in self.run(body, on: slot, resuming: continuation) },
                            fail: { error in continuation.resume(throwing: error) })
                    }
                    return actions
                }
                guard let actions else { return continuation.resume(throwing: CancellationError()) }
                if let lease = actions.run { return run(body, on: lease.slot, resuming: continuation) }
                for failed in actions.fail { continuation.resume(throwing: error(for: failed.failure)) }
                perform(Resolved(actions: actions))
            }
        } onCancel: {
            event { $0.cancelled(request) }
        }
    }

    /// True if `SELECT 1` answers within `timeout` on a reserved connection outside the pool (one
    /// more connection than `poolSize`, opened on first use, on `sessionURL`: past a transaction
    /// pooler): a busy pool, or a busy pooler, is not an unready database.
    public func isHealthy(timeout: Duration) async -> Bool {
        if state.withLock({ $0.machine.isShutDown }) { return false }
        return await probe.check(configuration: configuration.onSessionURL, timeout: timeout)
    }

    public var statistics: PoolStatistics {
        state.withLock { $0.machine.statistics }
    }

    /// Refuses new borrowers, fails waiting ones with `.poolClosed`, waits for borrowed connections to
    /// come back, then closes every connection.
    public func close() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let resolved = state.withLock { state in
                state.closeWaiters.append(continuation)
                return Self.resolve(state.machine.shutdown(), in: &state)
            }
            perform(resolved)
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
        state.withLock { $0.machine.connectionsClosed() }
    }

    // MARK: - Carrying out actions

    /// Runs `body` on `slot`'s queue, reports the slot back (a waiter's body is then queued right behind
    /// this block, on this queue), then resumes the borrower.
    private func run<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) throws -> T, on slot: Int,
                                  resuming continuation: FirstResume<T>) {
        let connectionSlot = slots[slot]
        connectionSlot.queue.async {
            let outcome = connectionSlot.run(body, configuration: self.configuration)
            self.event { $0.released(slot, outcome.returned) }
            continuation.resume(with: outcome.result)
        }
    }

    /// Feeds one event to the machine under the lock, then carries out what it returned.
    private func event(_ feed: (inout PoolStateMachine) -> PoolStateMachine.Actions) {
        perform(state.withLock { state in Self.resolve(feed(&state.machine), in: &state) })
    }

    private static func resolve(_ actions: PoolStateMachine.Actions, in state: inout Locked) -> Resolved {
        var resolved = Resolved(actions: actions)
        if let lease = actions.run { resolved.starting = state.waiting.removeValue(forKey: lease.request) }
        for failed in actions.fail {
            if let waiter = state.waiting.removeValue(forKey: failed.request) { resolved.failing.append((waiter, failed.failure)) }
        }
        if actions.closeConnections { swap(&resolved.closers, &state.closeWaiters) }
        return resolved
    }

    /// Outside the lock: starts, fails, schedules and closes as the machine said.
    private func perform(_ resolved: Resolved) {
        let actions = resolved.actions
        if let lease = actions.run { resolved.starting?.start(lease.slot) }
        for failed in resolved.failing { failed.waiter.fail(error(for: failed.failure)) }
        if let deadline = actions.scheduleExpiry {
            DispatchQueue.global().asyncAfter(deadline: deadline) {
                self.event { $0.expiryTimerFired(now: .now()) }
            }
        }
        if let backoff = actions.scheduleBackoff {
            DispatchQueue.global().asyncAfter(deadline: .now() + backoff.delay.dispatchInterval) {
                self.event { $0.backoffEnded(slot: backoff.slot) }
            }
        }
        resolved.closers.forEach { $0.resume() }
    }

    private func error(for failure: PoolStateMachine.Failure) -> any Error {
        switch failure {
        case .timedOut:
            return PostgresError(kind: .poolExhausted,
                                 message: "no database connection became free within \(configuration.acquireTimeout) (pool size \(slots.count))")
        case .closed:
            return PostgresError(kind: .poolClosed, message: "the connection pool is closed")
        case .cancelled:
            return CancellationError()
        case .unreachable(let error):
            return error
        }
    }
}

/// A borrower waiting for a connection: either it is started on a freed slot, or it fails
/// (timeout, cancellation, pool closed). Exactly one of the two is called, once.
struct PoolWaiter: Sendable {
    let start: @Sendable (Int) -> Void
    let fail: @Sendable (any Error) -> Void
}
