import MatrixCore
import Foundation
import Logging
import ServiceLifecycle
import Storage

/// Keeps the tables that remote servers make grow bounded, every interval: sent outbox rows older
/// than the retention, in whichever worker gets the prune lock first (a transaction-scoped advisory
/// lock: workers never prune at once, and a worker that dies holds nothing), and cached server keys
/// whose validity ended more than ``expiredKeyGrace`` ago. Each round deletes in batches until
/// nothing old is left.
struct StoragePruner: Service {
    let outbox: OutboxStore
    let serverKeys: ServerKeyStore
    let retention: Duration
    let interval: Duration
    let logger: Logger
    /// Rows one statement deletes: small enough to stay far inside the statement timeout.
    static let batchSize = 10_000
    /// How long after its `valid_until_ts` a cached key is kept (the 7-day cap of key validity).
    static let expiredKeyGrace: Int64 = 7 * 24 * 3_600 * 1_000

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
        let cutoff = UnixMilliseconds.now() - Self.expiredKeyGrace
        do {
            var keys = 0
            while !Task.isCancelled {
                let batch = try await serverKeys.pruneExpired(validUntilBefore: cutoff, limit: Self.batchSize)
                keys += batch
                if batch < Self.batchSize { break }
            }
            if keys > 0 { logger.info("expired server keys pruned", metadata: ["rows": "\(keys)"]) }
        } catch {
            logger.warning("server key pruning failed; retrying next round", metadata: ["error": "\(error)"])
        }
    }
}
