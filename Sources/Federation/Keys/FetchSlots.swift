import Synchronization

/// A counting semaphore bounding the key fetches one process runs at once: a fetch takes a slot,
/// waiting in line (first come, first served) at most a given time for one to free up.
final class FetchSlots: Sendable {
    private struct State {
        var available: Int
        var waiters: [UInt64: CheckedContinuation<Bool, Never>] = [:]
        /// Waiter IDs in arrival order from `head` on; IDs no longer in `waiters` are skipped.
        var order: [UInt64] = []
        var head = 0
        var nextID: UInt64 = 0

        mutating func compact() {
            if waiters.isEmpty {
                order.removeAll(keepingCapacity: true)
                head = 0
            } else if head > 64, head * 2 > order.count {
                order.removeFirst(head)
                head = 0
            }
        }
    }

    private let state: Mutex<State>

    init(limit: Int) {
        state = Mutex(State(available: max(1, limit)))
    }

    /// Takes a slot, waiting at most `wait`; `false` if none freed up in time (nothing to release then).
    func acquire(wait: Duration) async -> Bool {
        await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let waiterID = state.withLock { state -> UInt64? in
                if state.available > 0 {
                    state.available -= 1
                    return nil
                }
                state.nextID &+= 1
                state.waiters[state.nextID] = continuation
                state.order.append(state.nextID)
                return state.nextID
            }
            guard let waiterID else { return continuation.resume(returning: true) }
            Task {
                try? await Task.sleep(for: wait)
                self.giveUp(waiterID)
            }
        }
    }

    /// Returns a slot: to the longest waiting caller, else to the pool.
    func release() {
        let next = state.withLock { state -> CheckedContinuation<Bool, Never>? in
            defer { state.compact() }
            while state.head < state.order.count {
                let id = state.order[state.head]
                state.head += 1
                if let waiter = state.waiters.removeValue(forKey: id) { return waiter }
            }
            state.available += 1
            return nil
        }
        next?.resume(returning: true)
    }

    private func giveUp(_ id: UInt64) {
        let waiter = state.withLock { state -> CheckedContinuation<Bool, Never>? in
            defer { state.compact() }
            return state.waiters.removeValue(forKey: id)
        }
        waiter?.resume(returning: false)
    }
}
