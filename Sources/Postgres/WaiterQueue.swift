/// Callers waiting for a pooled connection, first come first served, removable by ticket
/// (on timeout or cancellation) in O(1).
struct WaiterQueue {
    typealias Continuation = CheckedContinuation<Int, any Error>

    private var waiting: [UInt64: Continuation] = [:]
    private var order: [UInt64] = []
    private var head = 0
    private var lastTicket: UInt64 = 0

    var count: Int { waiting.count }

    /// A ticket for a caller about to wait; tickets increase, so their order is the arrival order.
    mutating func nextTicket() -> UInt64 {
        lastTicket += 1
        return lastTicket
    }

    mutating func append(_ ticket: UInt64, _ continuation: Continuation) {
        waiting[ticket] = continuation
        order.append(ticket)
    }

    /// Removes and returns the waiter holding `ticket`, if it is still waiting.
    mutating func remove(_ ticket: UInt64) -> Continuation? {
        waiting.removeValue(forKey: ticket)
    }

    /// Removes and returns the longest-waiting caller.
    mutating func popFirst() -> Continuation? {
        while head < order.count {
            let ticket = order[head]
            head += 1
            if let continuation = waiting.removeValue(forKey: ticket) {
                compactIfMostlyConsumed()
                return continuation
            }
        }
        compactIfMostlyConsumed()
        return nil
    }

    mutating func removeAll() -> [Continuation] {
        let all = order[head...].compactMap { waiting[$0] }
        waiting.removeAll()
        order.removeAll()
        head = 0
        return all
    }

    private mutating func compactIfMostlyConsumed() {
        if head == order.count {
            order.removeAll(keepingCapacity: true)
            head = 0
        } else if head > 64, head * 2 > order.count {
            order.removeFirst(head)
            head = 0
        }
    }
}
