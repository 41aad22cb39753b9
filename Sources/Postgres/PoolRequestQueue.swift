import Dispatch

/// The requests waiting for a pooled connection, first come first served, each removable by ID
/// (on cancellation) in O(1). Every request waits equally long, so deadlines increase in queue
/// order and the first request always has the earliest one. Plain data: IDs and deadlines only.
struct PoolRequestQueue {
    private var deadlines: [UInt64: DispatchTime] = [:]
    private var order: [UInt64] = []
    private var head = 0

    var count: Int { deadlines.count }
    var isEmpty: Bool { deadlines.isEmpty }

    mutating func append(_ id: UInt64, deadline: DispatchTime) {
        deadlines[id] = deadline
        order.append(id)
    }

    /// Removes `id`; false if it was not waiting (already handed a connection, failed or cancelled).
    mutating func remove(_ id: UInt64) -> Bool {
        deadlines.removeValue(forKey: id) != nil
    }

    /// The deadline of the longest-waiting request.
    mutating func firstDeadline() -> DispatchTime? {
        skipDeparted()
        return head < order.count ? deadlines[order[head]] : nil
    }

    /// Removes and returns the longest-waiting request.
    mutating func popFirst() -> UInt64? {
        skipDeparted()
        guard head < order.count else { return nil }
        let id = order[head]
        deadlines[id] = nil
        head += 1
        compact()
        return id
    }

    /// Removes every request, in arrival order.
    mutating func removeAll() -> [UInt64] {
        let all = order[head...].filter { deadlines[$0] != nil }
        deadlines.removeAll()
        order.removeAll()
        head = 0
        return all
    }

    /// Steps over requests that already left (cancelled).
    private mutating func skipDeparted() {
        while head < order.count, deadlines[order[head]] == nil { head += 1 }
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
