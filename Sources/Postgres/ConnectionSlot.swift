import Dispatch
import Synchronization

/// One place in the pool: a serial queue and the connection only that queue uses, opened on first
/// borrow and replaced after it breaks.
final class ConnectionSlot: Sendable {
    let queue: DispatchQueue
    /// Only touched from `queue`, one borrower at a time (the pool hands a slot to one borrower);
    /// the mutex is never contended and lets the compiler check that the connection stays here.
    private let connection = Mutex<PostgresConnection?>(nil)

    init(index: Int) {
        queue = DispatchQueue(label: "postgres.connection.\(index)")
    }

    /// On `queue`: runs `body` on a live connection (connecting first if needed), then keeps the
    /// connection only if it is still usable. Returns the outcome and how the slot comes back.
    func run<T: Sendable>(
        _ body: @Sendable (PostgresConnection) throws -> T,
        configuration: PostgresConfiguration
    ) -> (result: Result<T, any Error>, returned: PoolStateMachine.Return) {
        dispatchPrecondition(condition: .onQueue(queue))
        return connection.withLock { current in
            if let open = current, !open.isUsableAfterIdling() { current = nil }
            let live: PostgresConnection
            if let open = current {
                live = open
            } else {
                do throws(PostgresError) {
                    live = try PostgresConnection(configuration: configuration)
                } catch {
                    return (.failure(error), .connectFailed(error))
                }
                current = live
            }
            let result = Result { try body(live) }
            if !live.prepareForReuse() { current = nil }
            return (result, current == nil ? .broken : .open)
        }
    }

    /// On `queue`: closes the connection, if open.
    func close() {
        dispatchPrecondition(condition: .onQueue(queue))
        connection.withLock { $0 = nil }
    }
}
