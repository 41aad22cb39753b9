import Logging
import Storage

extension FederationSender {
    /// A drain task: drains `first`, then the destinations waiting for its slot, one after the
    /// other (a slot does not idle until the next scan).
    func drain(from first: String) async {
        var next: String? = first
        while let destination = next {
            let madeProgress = await drain(destination)
            next = finishDrain(destination, madeProgress: madeProgress, takeNext: !Task.isCancelled)
        }
    }

    /// Called by a drain task when its destination's drain ends: queues the destination if a scan
    /// found it due meanwhile, hands the task the first waiting destination when `takeNext` (marked
    /// active), and rings for another scan if the drain made progress (more may have arrived) or
    /// destinations still wait.
    private func finishDrain(_ destination: String, madeProgress: Bool, takeNext: Bool) -> String? {
        let (next, wake) = state.withLock { state -> (String?, AsyncStream<Void>.Continuation?) in
            state.active.remove(destination)
            if state.dueAgain.remove(destination) != nil, state.isWaiting.insert(destination).inserted {
                state.waiting.append(destination)
            }
            var next: String?
            if takeNext, !state.isStopping, !state.waiting.isEmpty {
                let taken = state.waiting.removeFirst()
                state.isWaiting.remove(taken)
                state.active.insert(taken)
                next = taken
            }
            let rescan = madeProgress || !state.waiting.isEmpty
            return (next, rescan ? state.wake : nil)
        }
        wake?.yield()
        return next
    }

    /// Claims `destination` and sends its due events, a batch at a time, until none is left, a
    /// send fails, or the sender stops. A batch smaller than the limit ends the drain (what
    /// arrives later rings a new scan). True when a batch carried events.
    func drain(_ destination: String) async -> Bool {
        var madeProgress = false
        while !isStopping && !Task.isCancelled {
            let claimed: ForwardingBatch?
            do {
                // Up to the stream's safe point: events above it may still be joined by earlier
                // positions committing later (sql/README.md, "Event stream"). The one the scan that
                // started this drain read: a read per claim cost Postgres a `pg_locks` scan each
                // (what it would add arrives with the next wake-up's scan anyway).
                claimed = try await store.claim(destination: destination, limit: configuration.batchSize,
                                                lease: configuration.lease, safe: horizon.knownSafePosition)
            } catch {
                logger.warning("forwarding: claim failed", metadata: ["destination": "\(destination)", "error": "\(error)"])
                return madeProgress
            }
            guard let batch = claimed, await deliver(batch) else { return madeProgress }
            madeProgress = madeProgress || !batch.events.isEmpty
            guard batch.events.count == configuration.batchSize else { return madeProgress }
        }
        return madeProgress
    }
}
