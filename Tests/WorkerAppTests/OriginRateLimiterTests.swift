import LeaveService
import Testing
@testable import WorkerApp

/// The per-origin limiter's map stays within its bound whatever the number of origins, and
/// forgetting the least recently seen origins does not free a limited origin that keeps asking.
struct OriginRateLimiterTests {
    static func isLimited(_ limiter: OriginRateLimiter, _ origin: String, at now: ContinuousClock.Instant) -> Bool {
        do {
            try limiter.admit(origin, now: now)
            return false
        } catch {
            return error.status == 429
        }
    }

    @Test func aHundredThousandOriginsKeepTheMapWithinItsBoundAndALimitedOriginLimited() {
        let limiter = OriginRateLimiter(ratePerSecond: 1, burst: 2, maximumOrigins: 1_000)
        let now = ContinuousClock.now   // no time passes: no bucket refills
        #expect(!Self.isLimited(limiter, "noisy.example", at: now))
        #expect(!Self.isLimited(limiter, "noisy.example", at: now))
        #expect(Self.isLimited(limiter, "noisy.example", at: now))
        for index in 0..<100_000 {
            #expect(!Self.isLimited(limiter, "origin-\(index).example", at: now))
            if index % 500 == 0 { #expect(Self.isLimited(limiter, "noisy.example", at: now), "after \(index) origins") }
            #expect(limiter.trackedOrigins <= 1_000)
        }
        #expect(limiter.trackedOrigins == 1_000)
        #expect(Self.isLimited(limiter, "noisy.example", at: now))
    }

    @Test func theBucketRefillsWithTime() {
        let limiter = OriginRateLimiter(ratePerSecond: 10, burst: 1, maximumOrigins: 10)
        let start = ContinuousClock.now
        #expect(!Self.isLimited(limiter, "a.example", at: start))
        #expect(Self.isLimited(limiter, "a.example", at: start))
        #expect(!Self.isLimited(limiter, "a.example", at: start + .milliseconds(100)))
    }
}
