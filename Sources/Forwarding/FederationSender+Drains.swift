import Logging
import Storage

extension FederationSender {
    /// A drain task: drains `first`, then the destinations waiting for its slot, one after the
    /// other (a slot does not idle until the next scan).
    func drain(from first: String) async {
        var next: String? = first
        while let destination = next {
            let end = await drain(destination)
            next = finishDrain(destination, end: end, takeNext: !Task.isCancelled)
        }
    }

    /// How a destination's drain ended.
    enum DrainEnd {
        /// Nothing was sent: nothing claimable, or the first send failed.
        case nothingSent
        /// Batches carried events; the destination has nothing more due, or a send failed.
        case sent
        /// Its turn ended while more was due and other destinations waited for a slot: it queues
        /// behind them (its position and lease released).
        case turnEnded
    }

    /// Called by a drain task when its destination's drain ends: queues the destination if its turn
    /// ended or a scan found it due meanwhile, hands the task the first waiting destination when
    /// `takeNext` (marked active), and rings for another scan if the drain made progress (more may
    /// have arrived) or destinations still wait.
    private func finishDrain(_ destination: String, end: DrainEnd, takeNext: Bool) -> String? {
        let madeProgress = end != .nothingSent
        let (next, wake) = state.withLock { state -> (String?, AsyncStream<Void>.Continuation?) in
            state.active.remove(destination)
            if state.dueAgain.remove(destination) != nil || end == .turnEnded {
                // A drain that sent nothing failed (or found nothing claimable): behind the healthy ones.
                state.waiting.append(destination, failing: !madeProgress)
            }
            var next: String?
            if takeNext, !state.isStopping, let taken = state.waiting.removeFirst(1).first {
                state.active.insert(taken)
                next = taken
            }
            let rescan = madeProgress || !state.waiting.isEmpty
            return (next, rescan ? state.wake : nil)
        }
        wake?.yield()
        return next
    }

    /// How long a drain keeps its slot while other destinations wait for one: past it, the drain
    /// ends after the batch in hand and its destination queues behind them.
    static let turnLength = Duration.seconds(1)

    /// Claims `destination` and sends its due events, a batch at a time, until none is left, a
    /// send fails, the sender stops — or its turn is over (``turnLength``) and other destinations
    /// wait for a slot: a destination with a long backlog (hours of leaves, a slow server
    /// answering each transaction just inside the timeout) then takes its turn again behind them.
    /// A batch smaller than the limit ends the drain (what arrives later rings a new scan); a full
    /// one's completion claims the next batch in the same statement.
    func drain(_ destination: String) async -> DrainEnd {
        guard !isStopping, !Task.isCancelled, var batch = await claim(destination) else { return .nothingSent }
        let turnEnds = ContinuousClock.now + Self.turnLength
        var held: [EncodedPDUCache.HeldEncoding] = []
        var end = DrainEnd.nothingSent
        while true {
            guard case .finished(let delivered) = await deliver(batch, held: held) else { return end }
            if !batch.events.isEmpty { end = .sent }
            guard batch.events.count == configuration.batchSize, !isStopping, !Task.isCancelled else {
                await complete(batch, delivered: delivered)
                return end
            }
            guard ContinuousClock.now < turnEnds || state.withLock({ $0.waiting.isEmpty }) else {
                await complete(batch, delivered: delivered)
                return .turnEnded
            }
            held = encodedPDUs.heldEncodings(after: batch.through, within: Self.heldPositionsSpan * configuration.batchSize,
                                             limit: configuration.batchSize)
            guard let next = await completeAndClaimNext(batch, delivered: delivered, holding: held.map(\.position)) else {
                return end
            }
            batch = next
        }
    }

    /// How far past a batch, in batches' worth of stream positions, the sender looks for PDUs its
    /// cache holds when claiming the next, which the claim then leaves out: in a room of many
    /// servers the next batch's events are the positions right after (each drain walks the same
    /// stretch of stream); events of rooms the destination is not in leave gaps.
    static let heldPositionsSpan = 4

    /// The destination's next batch, claimed; nil when it is not claimable (another sender holds
    /// it, it is backed off) or the claim failed.
    private func claim(_ destination: String) async -> ForwardingBatch? {
        do {
            // Up to the stream's safe point: events above it may still be joined by earlier
            // positions committing later (sql/README.md, "Event stream"). The one the scan that
            // started this drain read: a read per claim cost Postgres a `pg_locks` scan each
            // (what it would add arrives with the next wake-up's scan anyway).
            return try await store.claim(destination: destination, limit: configuration.batchSize,
                                         lease: configuration.lease, safe: horizon.knownSafePosition)
        } catch {
            logger.warning("forwarding: claim failed", metadata: ["destination": "\(destination)", "error": "\(error)"])
            return nil
        }
    }

    /// Completes a full batch and claims the next in one statement; if that statement fails, the
    /// completion alone is recorded (retried) and the drain ends — a later scan claims again. The
    /// claim leaves out the PDUs at the positions `holding` (the caller holds them).
    private func completeAndClaimNext(_ batch: ForwardingBatch, delivered: Bool, holding: [Int64]) async -> ForwardingBatch? {
        do {
            return try await store.complete(batch, delivered: delivered, thenClaimUpTo: configuration.batchSize,
                                            lease: configuration.lease, safe: horizon.knownSafePosition, holding: holding)
        } catch {
            logger.warning("forwarding: completion with the next claim failed", metadata: [
                "destination": "\(batch.destination)", "error": "\(error)",
            ])
            await complete(batch, delivered: delivered)
            return nil
        }
    }
}
