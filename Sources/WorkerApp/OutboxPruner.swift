import Logging
import ServiceLifecycle
import Storage

/// Deletes sent outbox rows older than the retention, every interval, in whichever worker gets the
/// prune lock first (a transaction-scoped advisory lock: workers never prune at once, and a worker
/// that dies holds nothing). Each round deletes in batches until nothing old is left.
struct OutboxPruner: Service {
    let outbox: OutboxStore
    let retention: Duration
    let interval: Duration
    let logger: Logger
    /// Rows one statement deletes: small enough to stay far inside the statement timeout.
    static let batchSize = 10_000

    func run() async {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await pruneOnce()
                try? await Task.sleep(for: interval)
            }
        }
    }

    /// One round (nothing when another worker holds the lock).
    private func pruneOnce() async {
        var deleted = 0
        do {
            while !Task.isCancelled, let batch = try await outbox.pruneSent(olderThan: retention, limit: Self.batchSize) {
                deleted += batch
                if batch < Self.batchSize { break }
            }
            if deleted > 0 { logger.info("outbox pruned", metadata: ["rows": "\(deleted)"]) }
        } catch {
            logger.warning("outbox pruning failed; retrying next round", metadata: ["error": "\(error)"])
        }
    }
}
