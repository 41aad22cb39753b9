import BoundedCollections
import LeaveService
import Synchronization

/// Per-origin token buckets: each remote server may make `ratePerSecond` authenticated requests a
/// second on average, in bursts of up to `burst`; beyond that it is answered 429
/// `M_LIMIT_EXCEEDED` with `retry_after_ms`. Kept per process (a load balancer spreading an origin
/// over N workers lets it through N times as fast): the limit protects each worker, it is not a
/// quota. At most `maximumOrigins` buckets are kept; the least recently seen origin's is forgotten
/// first (it starts again with a full bucket — no more than any origin never seen before gets).
final class OriginRateLimiter: Sendable {
    private struct Bucket {
        var tokens: Double
        var updated: ContinuousClock.Instant
    }

    private let ratePerSecond: Double
    private let burst: Double
    private let buckets: Mutex<BoundedLRU<String, Bucket>>

    init(ratePerSecond: Int, burst: Int, maximumOrigins: Int) {
        self.ratePerSecond = Double(ratePerSecond)
        self.burst = Double(max(burst, 1))
        buckets = Mutex(BoundedLRU(capacity: maximumOrigins))
    }

    /// How many origins have a bucket (at most `maximumOrigins`).
    var trackedOrigins: Int { buckets.withLock { $0.count } }

    /// Takes one token for `origin`, or throws the 429 to answer.
    func admit(_ origin: String, now: ContinuousClock.Instant = .now) throws(MatrixError) {
        let wait: Double? = buckets.withLock { buckets in
            var bucket = buckets.value(for: origin) ?? Bucket(tokens: burst, updated: now)
            bucket.tokens = min(burst, bucket.tokens + max(0, (now - bucket.updated) / .seconds(1)) * ratePerSecond)
            bucket.updated = now
            defer { buckets.set(bucket, for: origin) }
            guard bucket.tokens >= 1 else { return (1 - bucket.tokens) / ratePerSecond }
            bucket.tokens -= 1
            return nil
        }
        if let wait {
            throw .limitExceeded(retryAfterMilliseconds: max(1, Int((wait * 1000).rounded(.up))))
        }
    }
}
