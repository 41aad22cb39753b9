import MatrixCore
import NIOCore
import RemoteHomeserver
import Synchronization

/// One member's leave: who leaves which room, and what of it was prepared before the clock started.
struct LeaveJob: Sendable {
    let roomID: String
    let userID: String
    /// The member's server (one of the played servers).
    let server: String
    var presigned: SignedEvent?
    /// Send-only mode against an `https://` target: the send_leave request of `presigned`, built
    /// and signed in advance.
    var prepared: FederationRequester.PreparedRequest?
    /// Against an `http://` target: the job's first request, every byte of it (``EncodedRequest``) —
    /// the send_leave of `presigned` in send-only mode, the make_leave in the other modes.
    var encoded: ByteBuffer?
}

/// Hands out jobs to the driver tasks until the jobs, the count or the time run out; a repeating
/// queue starts over at the first job instead of running out. With a pace, job n is due at
/// `start + n × pace` (a fixed arrival rate, as long as the drivers keep up).
final class JobQueue: Sendable {
    private let jobs: [LeaveJob]
    private let repeating: Bool
    private let limit: Int
    /// Whether `limit` is the requested count (not the number of jobs).
    private let limitedByCount: Bool
    private let deadline: ContinuousClock.Instant?
    private let pace: (start: ContinuousClock.Instant, interval: Duration)?
    private let next = Mutex(0)

    init(jobs: [LeaveJob], limit: Int?, deadline: ContinuousClock.Instant?, repeating: Bool = false,
         pace: (start: ContinuousClock.Instant, interval: Duration)? = nil) {
        self.pace = pace
        self.jobs = jobs
        self.repeating = repeating && !jobs.isEmpty
        let available = self.repeating ? Int.max : jobs.count
        self.limit = min(available, limit ?? available)
        self.limitedByCount = limit.map { $0 <= available } ?? false
        self.deadline = deadline
    }

    /// The next job, or nil when the run is over.
    func take() -> LeaveJob? {
        takeScheduled()?.job
    }

    /// The next job and when it is due (nil: now), or nil when the run is over.
    func takeScheduled() -> (job: LeaveJob, due: ContinuousClock.Instant?)? {
        if let deadline, ContinuousClock.now >= deadline { return nil }
        let index = next.withLock { next -> Int? in
            guard next < limit else { return nil }
            defer { next += 1 }
            return next
        }
        guard let index else { return nil }
        let due = pace.map { $0.start + $0.interval * index }
        if let deadline, let due, due >= deadline { return nil }
        return (jobs[index % jobs.count], due)
    }

    /// Why the run ended (call after the drivers finished).
    func stopReason() -> LoadReport.StopReason {
        let handedOut = next.withLock { $0 }
        if handedOut < limit { return .duration }
        return limitedByCount ? .count : .membersExhausted
    }
}
