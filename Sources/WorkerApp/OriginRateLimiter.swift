import LeaveService
import Synchronization

/// Per-origin token buckets: each remote server may make `ratePerSecond` authenticated requests a
/// second on average, in bursts of up to `burst`; beyond that it is answered 429
/// `M_LIMIT_EXCEEDED` with `retry_after_ms`. Kept per process (a load balancer spreading an origin
/// over N workers lets it through N times as fast): the limit protects each worker, it is not a
/// quota.
final class OriginRateLimiter: Sendable {
    private struct Bucket {
        var tokens: Double
        var updated: ContinuousClock.Instant
    }

    private let ratePerSecond: Double
    private let burst: Double
    /// Beyond this many tracked origins, full buckets are forgotten (a full bucket is the default).
    private let maximumOrigins = 10_000
    private let buckets = Mutex<[String: Bucket]>([:])

    init(ratePerSecond: Int, burst: Int) {
        self.ratePerSecond = Double(ratePerSecond)
        self.burst = Double(max(burst, 1))
    }

    /// Takes one token for `origin`, or throws the 429 to answer.
    func admit(_ origin: String, now: ContinuousClock.Instant = .now) throws(MatrixError) {
        let wait: Double? = buckets.withLock { buckets in
            var bucket = buckets[origin] ?? Bucket(tokens: burst, updated: now)
            bucket.tokens = min(burst, bucket.tokens + (now - bucket.updated) / .seconds(1) * ratePerSecond)
            bucket.updated = now
            if bucket.tokens >= 1 {
                bucket.tokens -= 1
                buckets[origin] = bucket
                if buckets.count > maximumOrigins { forgetFullBuckets(&buckets, now: now) }
                return nil
            }
            buckets[origin] = bucket
            return (1 - bucket.tokens) / ratePerSecond
        }
        if let wait {
            throw .limitExceeded(retryAfterMilliseconds: max(1, Int((wait * 1000).rounded(.up))))
        }
    }

    private func forgetFullBuckets(_ buckets: inout [String: Bucket], now: ContinuousClock.Instant) {
        let refill = Duration.seconds(burst / ratePerSecond)
        buckets = buckets.filter { now - $0.value.updated < refill }
    }
}
