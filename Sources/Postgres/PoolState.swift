import Dispatch

/// The pool's bookkeeping, always used under the pool's mutex: which slots are free, who waits.
struct PoolState {
    /// Free slots, most recently returned last (reused first, so warm connections stay busy and
    /// unused slots never connect).
    private(set) var idle: [Int]
    private(set) var isOpen: [Bool]
    private(set) var inUse = 0
    var waiters = WaiterQueue()
    /// Whether an expiry check is scheduled (one at a time, for the first waiter's deadline).
    private var isExpiryScheduled = false
    private(set) var isClosed = false
    private var closeWaiters: [CheckedContinuation<Void, Never>] = []

    init(size: Int) {
        idle = Array((0..<size).reversed())
        isOpen = Array(repeating: false, count: size)
    }

    var statistics: PoolStatistics {
        PoolStatistics(size: isOpen.count, open: isOpen.count { $0 }, inUse: inUse,
                       idle: isOpen.count - inUse, waiting: waiters.count)
    }

    mutating func takeIdle() -> Int? {
        guard !isClosed, let slot = idle.popLast() else { return nil }
        inUse += 1
        return slot
    }

    /// Queues a waiter; returns the deadline to schedule an expiry check for, unless one is pending.
    mutating func enqueue(_ ticket: UInt64, _ waiter: PoolWaiter, deadline: DispatchTime) -> DispatchTime? {
        waiters.append(ticket, waiter, deadline: deadline)
        guard !isExpiryScheduled else { return nil }
        isExpiryScheduled = true
        return deadline
    }

    /// Removes the waiters whose deadline passed; returns them and when to check next (nil: nobody waits).
    mutating func expireWaiters(now: DispatchTime) -> (expired: [PoolWaiter], next: DispatchTime?) {
        var expired: [PoolWaiter] = []
        while let deadline = waiters.firstDeadline(), deadline <= now, let waiter = waiters.popFirst() {
            expired.append(waiter)
        }
        let next = waiters.firstDeadline()
        isExpiryScheduled = next != nil
        return (expired, next)
    }

    /// What to do with a slot a borrower gave back.
    enum Release {
        /// Give it to this waiter (it stays in use).
        case handOver(PoolWaiter)
        /// It went back to the idle list; resume these `close()` callers (the pool is now quiet).
        case idle(closeWaiters: [CheckedContinuation<Void, Never>])
    }

    mutating func release(_ slot: Int, isConnected: Bool) -> Release {
        isOpen[slot] = isConnected
        if let waiter = waiters.popFirst() { return .handOver(waiter) }
        inUse -= 1
        idle.append(slot)
        guard isClosed, inUse == 0 else { return .idle(closeWaiters: []) }
        defer { closeWaiters.removeAll() }
        return .idle(closeWaiters: closeWaiters)
    }

    /// Marks the pool closed; returns the callers that were waiting for a connection.
    mutating func close() -> [PoolWaiter] {
        isClosed = true
        return waiters.removeAll()
    }

    /// Records that `close()` closed every connection.
    mutating func forgetConnections() {
        isOpen = Array(repeating: false, count: isOpen.count)
    }

    /// Registers a `close()` caller to resume once no slot is in use; false if none is in use now.
    mutating func waitUntilQuiet(_ continuation: CheckedContinuation<Void, Never>) -> Bool {
        guard inUse > 0 else { return false }
        closeWaiters.append(continuation)
        return true
    }
}

/// A snapshot of the pool, for metrics.
public struct PoolStatistics: Sendable, Equatable {
    /// Configured number of connections.
    public let size: Int
    /// Connections currently open (the pool connects lazily).
    public let open: Int
    /// Connections borrowed right now.
    public let inUse: Int
    /// Slots not borrowed (open or not yet connected).
    public let idle: Int
    /// Callers waiting for a connection.
    public let waiting: Int
}
