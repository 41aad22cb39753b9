import Histogram
import MatrixCore

/// The outcome of a load run: throughput, latency percentiles per endpoint, failures by kind,
/// the generator's own CPU use, and (once checked) how many accepted leaves were lost.
public struct LoadReport: Sendable {
    /// Latency percentiles of one endpoint, in milliseconds.
    public struct Latency: Sendable, Equatable {
        public let endpoint: Endpoint
        public let count: UInt64
        public let p50: Double
        public let p90: Double
        public let p99: Double
        public let p999: Double
        public let max: Double
    }

    /// Why the run stopped.
    public enum StopReason: String, Sendable {
        case duration
        case count
        /// Every generated member had left (or failed to): more rooms or members are needed.
        case membersExhausted = "members exhausted"
    }

    public let mode: LoadGenOptions.Mode
    public let target: String
    public let concurrency: Int
    public let stopReason: StopReason
    /// Wall-clock seconds from the first request to the last answer.
    public let elapsedSeconds: Double
    /// Leaves started (pairs, sends in send-only mode, make_leaves in make-only mode).
    public let attempted: Int
    /// Leaves answered 200 by send_leave, or (make-only) make_leaves answered with a usable template.
    public let accepted: Int
    public let latencies: [Latency]
    /// Failed requests by kind, most frequent first.
    public let failures: [(kind: FailureKind, count: Int)]
    /// CPU time the generator used during the run.
    public let generatorCPU: CPUTime
    /// Where the machine's CPU went during the run (Linux only; nil elsewhere).
    public var cpuSplit: CPUSplit?
    /// Where it went from the first request until the forwarding backlog drained (the run and the
    /// forwarding after it), and how long that was; nil when no drain was waited for or it did not end.
    public var cpuSplitWithDrain: CPUSplit?
    public var elapsedWithDrainSeconds: Double?
    /// The machine's speed when the run started (``BoxSpeed``): µs per Ed25519 verification; nil
    /// when not measured.
    public var ed25519VerifyMicroseconds: Double?
    /// Transactions the played servers received (leaves the target forwarded) during the run.
    public var forwardedTransactions: Int
    /// Accepted leaves not found stored with membership `leave`; nil until checked.
    public var lost: Int?
    /// The forwarding check after the run; nil when not asked for.
    public var forwarding: ForwardingOutcome?

    public init(mode: LoadGenOptions.Mode, target: String, concurrency: Int, stopReason: StopReason,
                statistics: RunStatistics, elapsedSeconds: Double, generatorCPU: CPUTime,
                forwardedTransactions: Int = 0, lost: Int? = nil) {
        self.mode = mode
        self.target = target
        self.concurrency = concurrency
        self.stopReason = stopReason
        self.elapsedSeconds = elapsedSeconds
        self.attempted = statistics.attempted
        self.accepted = statistics.succeeded
        self.latencies = statistics.latencies.keys.sorted().compactMap { endpoint in
            statistics.latencies[endpoint].map { Self.latency(endpoint, $0) }
        }
        self.failures = statistics.failures.map { (kind: $0.key, count: $0.value) }
            .sorted { $0.count != $1.count ? $0.count > $1.count : $0.kind < $1.kind }
        self.generatorCPU = generatorCPU
        self.forwardedTransactions = forwardedTransactions
        self.lost = lost
    }

    /// Accepted leaves (or templates) per second.
    public var throughput: Double { elapsedSeconds > 0 ? Double(accepted) / elapsedSeconds : 0 }
    /// Failed requests in all.
    public var failureCount: Int { failures.reduce(0) { $0 + $1.count } }
    /// Answers with a 5xx status.
    public var serverErrorCount: Int {
        failures.reduce(0) { $0 + (($1.kind.status ?? 0) >= 500 ? $1.count : 0) }
    }
    /// Why the run failed — accepted leaves lost, the backlog not drained in time, deliveries
    /// missing, duplicated, unexpected or unauthenticated — in one line; nil when it did not.
    public var failure: String? {
        if let lost, lost > 0 { return "\(lost) accepted \(lost == 1 ? "leave" : "leaves") lost" }
        guard let forwarding else { return nil }
        guard forwarding.drainSeconds != nil else {
            return "backlog not drained: \(forwarding.backlogLeft) deliveries still due"
        }
        let counts = [forwarding.missing, forwarding.duplicated, forwarding.unexpected, forwarding.unauthenticated]
            .map { $0 ?? 0 }
        guard counts.contains(where: { $0 > 0 }) else { return nil }
        return "forwarding check failed: \(counts[0]) missing, \(counts[1]) duplicated, \(counts[2]) unexpected, "
            + "\(counts[3]) unauthenticated"
    }

    /// The generator's CPU use in cores (1.0 = one core busy for the whole run).
    public var generatorCores: Double { elapsedSeconds > 0 ? generatorCPU.total / elapsedSeconds : 0 }

    private static func latency(_ endpoint: Endpoint, _ histogram: Histogram<UInt64>) -> Latency {
        func milliseconds(_ microseconds: UInt64) -> Double { Double(microseconds) / 1000 }
        return Latency(endpoint: endpoint, count: histogram.totalCount,
                       p50: milliseconds(histogram.valueAtPercentile(50)),
                       p90: milliseconds(histogram.valueAtPercentile(90)),
                       p99: milliseconds(histogram.valueAtPercentile(99)),
                       p999: milliseconds(histogram.valueAtPercentile(99.9)),
                       max: milliseconds(histogram.maxRecorded))
    }
}
