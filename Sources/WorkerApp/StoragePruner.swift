import MatrixCore
import Foundation
import Logging
import ServiceLifecycle
import Storage

/// Keeps the cache of server keys that remote servers make grow bounded: every ``interval``, keys
/// whose validity ended more than ``expiredKeyGrace`` ago are deleted, in batches until nothing old
/// is left. (Forwarding keeps nothing per delivery: a destination's progress is one position.)
struct StoragePruner: Service {
    let serverKeys: ServerKeyStore
    let logger: Logger
    /// How often a worker prunes.
    static let interval: Duration = .seconds(300)
    /// Rows one statement deletes: small enough to stay far inside the statement timeout.
    static let batchSize = 10_000
    /// How long after its `valid_until_ts` a cached key is kept (the 7-day cap of key validity).
    static let expiredKeyGrace: Int64 = 7 * 24 * 3_600 * 1_000

    func run() async {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await pruneOnce()
                try? await Task.sleep(for: Self.interval)
            }
        }
    }

    /// One round.
    private func pruneOnce() async {
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
