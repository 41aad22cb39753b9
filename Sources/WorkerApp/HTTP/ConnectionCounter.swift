import Synchronization

/// The process's open HTTP connections, counted across event loops: a connection is admitted
/// only while fewer than the limit are open.
final class ConnectionCounter: Sendable {
    private let open = Atomic<Int>(0)

    /// Counts a new connection in if fewer than `limit` are open; false means refuse it.
    func admit(limit: Int) -> Bool {
        var current = open.load(ordering: .relaxed)
        while current < limit {
            let (exchanged, original) = open.compareExchange(expected: current, desired: current + 1, ordering: .relaxed)
            if exchanged { return true }
            current = original
        }
        return false
    }

    /// Counts an admitted connection out once it closed.
    func release() {
        open.subtract(1, ordering: .relaxed)
    }
}
