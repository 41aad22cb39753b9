import Dispatch

/// Callers waiting for a pooled connection, first come first served, removable by ticket (on
/// cancellation) in O(1). Every waiter waits equally long, so deadlines increase in queue order and
/// the first waiter always has the earliest one.
struct WaiterQueue {
    private struct Waiter {
        let waiter: PoolWaiter
        let deadline: DispatchTime
    }

    private var waiting: [UInt64: Waiter] = [:]
    private var order: [UInt64] = []
    private var head = 0
    private var lastTicket: UInt64 = 0

    var count: Int { waiting.count }

    /// A ticket for a caller about to wait; tickets increase, so their order is the arrival order.
    mutating func nextTicket() -> UInt64 {
        lastTicket += 1
        return lastTicket
    }

    mutating func append(_ ticket: UInt64, _ waiter: PoolWaiter, deadline: DispatchTime) {
        waiting[ticket] = Waiter(waiter: waiter, deadline: deadline)
        order.append(ticket)
    }

    /// Removes and returns the waiter holding `ticket`, if it is still waiting.
    mutating func remove(_ ticket: UInt64) -> PoolWaiter? {
        waiting.removeValue(forKey: ticket)?.waiter
    }

    /// The deadline of the longest-waiting caller.
    mutating func firstDeadline() -> DispatchTime? {
        skipDeparted()
        return head < order.count ? waiting[order[head]]?.deadline : nil
    }

    /// Removes and returns the longest-waiting caller.
    mutating func popFirst() -> PoolWaiter? {
        skipDeparted()
        guard head < order.count else { return nil }
        let waiter = waiting.removeValue(forKey: order[head])
        head += 1
        compact()
        return waiter?.waiter
    }

    mutating func removeAll() -> [PoolWaiter] {
        let all = order[head...].compactMap { waiting[$0]?.waiter }
        waiting.removeAll()
        order.removeAll()
        head = 0
        return all
    }

    /// Steps over tickets whose callers were already removed (cancelled).
    private mutating func skipDeparted() {
        while head < order.count, waiting[order[head]] == nil { head += 1 }
        compact()
    }

    private mutating func compact() {
        if head == order.count {
            order.removeAll(keepingCapacity: true)
            head = 0
        } else if head > 64, head * 2 > order.count {
            order.removeFirst(head)
            head = 0
        }
    }
}

/// A borrower waiting for a connection: either it is started on a freed slot, or it fails
/// (timeout, cancellation, pool closed). Exactly one of the two is called, once.
struct PoolWaiter: Sendable {
    let start: @Sendable (Int) -> Void
    let fail: @Sendable (any Error) -> Void
}
