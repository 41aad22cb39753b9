import Dispatch

/// The pool's bookkeeping as a pure state machine (the PostgresNIO pattern): events in, actions
/// out. It holds no continuations, closures, queues or clocks — only slot states, request IDs and
/// the deadlines it was given — so every decision is unit-tested without sockets or sleeping.
/// `PostgresPool` feeds it events under one mutex and carries out the actions it returns.
///
/// A slot is free and connected (`idle`), free and not connected, lent to a request (`leased`;
/// a lease of a slot without a connection opens one first, on the slot's queue), or backing off
/// after a failed connect. Requests are served first come, first served.
struct PoolStateMachine {
    enum SlotState: Equatable {
        case idle
        case unconnected
        case leased
        case backingOff
    }

    /// How a leased slot came back.
    enum Return {
        /// With an open connection.
        case open
        /// Its connection broke during use (it reconnects on its next lease, at once).
        case broken
        /// Opening its connection failed (the borrower got this error): it backs off.
        case connectFailed(PostgresError)
    }

    /// Why a request gets no connection.
    enum Failure {
        case timedOut
        case closed
        case cancelled
        /// No connection can be opened now: every free slot is backing off after this error.
        case unreachable(PostgresError)
    }

    /// What the pool must do after an event; all empty is "nothing".
    struct Actions {
        /// Run this request's body on this slot (connecting first if the slot has no connection).
        var run: (request: UInt64, slot: Int)?
        /// Resume these requests with these failures.
        var fail: [(request: UInt64, failure: Failure)] = []
        /// Call `expiryTimerFired(now:)` at this time.
        var scheduleExpiry: DispatchTime?
        /// Call `backoffEnded(slot:)` after this delay.
        var scheduleBackoff: (slot: Int, delay: Duration)?
        /// The pool is shut down and quiet: close every slot's connection, then `connectionsClosed()`.
        var closeConnections = false
    }

    private(set) var slots: [SlotState]
    private var isOpen: [Bool]
    /// Consecutive failed connects per slot (the back-off doubles with each).
    private var connectFailures: [Int]
    /// Free connected slots, most recently returned last (reused first, so warm connections stay
    /// busy and unused slots never connect).
    private var idle: [Int] = []
    /// Free slots without a connection, lowest index last.
    private var unconnected: [Int]
    private var requests = PoolRequestQueue()
    /// The error that sent each backing-off slot into its back-off.
    private var backoffErrors: [Int: PostgresError] = [:]
    private var leased = 0
    private var isExpiryScheduled = false
    private(set) var isShutDown = false
    let firstBackoff: Duration
    let maximumBackoff: Duration

    init(size: Int, firstBackoff: Duration = .milliseconds(100), maximumBackoff: Duration = .seconds(2)) {
        slots = Array(repeating: .unconnected, count: size)
        isOpen = Array(repeating: false, count: size)
        connectFailures = Array(repeating: 0, count: size)
        unconnected = Array((0..<size).reversed())
        self.firstBackoff = firstBackoff
        self.maximumBackoff = maximumBackoff
    }

    var statistics: PoolStatistics {
        PoolStatistics(size: slots.count, open: isOpen.count { $0 }, inUse: leased,
                       idle: slots.count - leased, waiting: requests.count)
    }

    /// A request for a connection, to be served before `deadline` (else it fails `.timedOut`).
    mutating func leaseRequested(_ request: UInt64, deadline: DispatchTime) -> Actions {
        var actions = Actions()
        if isShutDown {
            actions.fail = [(request, .closed)]
        } else if let slot = takeFreeSlot() {
            actions.run = (request, slot)
        } else if leased == 0, let error = lastConnectError {
            actions.fail = [(request, .unreachable(error))]
        } else {
            requests.append(request, deadline: deadline)
            if !isExpiryScheduled {
                isExpiryScheduled = true
                actions.scheduleExpiry = deadline
            }
        }
        return actions
    }

    /// The request was cancelled: it fails if it still waits; once handed a slot it runs to the end.
    mutating func cancelled(_ request: UInt64) -> Actions {
        var actions = Actions()
        if requests.remove(request) { actions.fail = [(request, .cancelled)] }
        return actions
    }

    /// A leased slot came back: the longest-waiting request gets it, else it is free again.
    mutating func released(_ slot: Int, _ returned: Return) -> Actions {
        var actions = Actions()
        switch returned {
        case .open:
            isOpen[slot] = true
            connectFailures[slot] = 0
            slots[slot] = .idle
        case .broken:
            isOpen[slot] = false
            slots[slot] = .unconnected
        case .connectFailed(let error):
            isOpen[slot] = false
            connectFailures[slot] += 1
            slots[slot] = .backingOff
            backoffErrors[slot] = error
            actions.scheduleBackoff = (slot, backoffDelay(afterFailures: connectFailures[slot]))
        }
        leased -= 1
        if slots[slot] != .backingOff, !isShutDown, let request = requests.popFirst() {
            slots[slot] = .leased
            leased += 1
            actions.run = (request, slot)
            return actions
        }
        switch slots[slot] {
        case .idle: idle.append(slot)
        case .unconnected: unconnected.append(slot)
        case .leased, .backingOff: break
        }
        if case .connectFailed(let error) = returned, leased == 0, idle.isEmpty, unconnected.isEmpty {
            // Nothing can serve the waiting requests before a back-off ends: fail them now.
            actions.fail = requests.removeAll().map { ($0, .unreachable(error)) }
        }
        actions.closeConnections = isShutDown && leased == 0
        return actions
    }

    /// A slot's back-off is over: it may try to connect again.
    mutating func backoffEnded(slot: Int) -> Actions {
        var actions = Actions()
        guard slots[slot] == .backingOff else { return actions }
        backoffErrors[slot] = nil
        if !isShutDown, let request = requests.popFirst() {
            slots[slot] = .leased
            leased += 1
            actions.run = (request, slot)
        } else {
            slots[slot] = .unconnected
            unconnected.append(slot)
        }
        return actions
    }

    /// The expiry timer fired: requests whose deadline passed fail; the timer is set for the next one.
    mutating func expiryTimerFired(now: DispatchTime) -> Actions {
        var actions = Actions()
        while let deadline = requests.firstDeadline(), deadline <= now, let request = requests.popFirst() {
            actions.fail.append((request, .timedOut))
        }
        actions.scheduleExpiry = requests.firstDeadline()
        isExpiryScheduled = actions.scheduleExpiry != nil
        return actions
    }

    /// Refuse new requests, fail the waiting ones; close the connections once no slot is leased.
    mutating func shutdown() -> Actions {
        isShutDown = true
        var actions = Actions()
        actions.fail = requests.removeAll().map { ($0, .closed) }
        actions.closeConnections = leased == 0
        return actions
    }

    /// The pool closed every connection.
    mutating func connectionsClosed() {
        isOpen = Array(repeating: false, count: isOpen.count)
    }

    // MARK: - Private

    /// A connect error of a slot that is backing off (nil if none is).
    private var lastConnectError: PostgresError? { backoffErrors.values.first }

    private mutating func takeFreeSlot() -> Int? {
        guard let slot = idle.popLast() ?? unconnected.popLast() else { return nil }
        slots[slot] = .leased
        leased += 1
        return slot
    }

    /// `firstBackoff` doubled for each further consecutive failure, at most `maximumBackoff`.
    private func backoffDelay(afterFailures failures: Int) -> Duration {
        var delay = firstBackoff
        for _ in 1..<max(1, failures) where delay < maximumBackoff { delay *= 2 }
        return min(delay, maximumBackoff)
    }
}
