import Metrics

/// The sender's metrics (swift-metrics; `/metrics` exports them through the process's backend).
/// `backlog_events` and `oldest_pending_seconds` describe the shared backlog, so every sender reports the
/// same figures (aggregate with `max`); the counters are this process's own (aggregate with `sum`).
struct ForwardingMetrics: Sendable {
    /// How far behind the destinations with deliveries due are: for each, the stream positions
    /// from its oldest due event to the stream's last accepted event, summed (0: nothing due; at
    /// least the number of due deliveries). Cheap to read whatever the backlog's size.
    let backlogEvents = Gauge(label: "leave_worker_forwarding_backlog_events")
    /// How long the oldest pending delivery has waited since its leave was stored.
    let oldestPendingSeconds = Gauge(label: "leave_worker_forwarding_oldest_pending_seconds")
    /// Deliveries a destination accepted (`rate()` of it: deliveries/s).
    let delivered = Counter(label: "leave_worker_forwarding_deliveries_total")
    /// Transactions sent with a 200 answer.
    let transactions = Counter(label: "leave_worker_forwarding_transactions_total")
    /// Deliveries dropped because their stored PDU cannot be signed into a request.
    let undeliverable = Counter(label: "leave_worker_forwarding_undeliverable_total")
    /// PDUs a claim left out that the sender then did not hold for that event: read from Postgres
    /// again (never expected: the sender keeps what it told the claim it holds).
    let pdusReread = Counter(label: "leave_worker_forwarding_pdus_reread_total")
    /// Time from sending a transaction to its answer (any answer).
    let sendDuration = Timer(label: "leave_worker_forwarding_send_duration_seconds")

    /// Failed transactions by kind — `no_answer` (unreachable, timed out) or `refused` (an answer
    /// other than 200). Never labelled by destination: those names come from remote data and would
    /// grow the series without bound; the log and the `destinations` table name them.
    private let unanswered = Counter(label: "leave_worker_forwarding_failures_total", dimensions: [("kind", "no_answer")])
    private let refused = Counter(label: "leave_worker_forwarding_failures_total", dimensions: [("kind", "refused")])

    /// One failed transaction: `answered` when the destination answered, but not 200.
    func recordFailure(answered: Bool) {
        (answered ? refused : unanswered).increment()
    }

    func recordBacklog(positions: Int, oldestWait: Duration?) {
        backlogEvents.record(positions)
        let wait = oldestWait ?? .zero
        oldestPendingSeconds.record(Double(wait.components.seconds) + Double(wait.components.attoseconds) / 1e18)
    }
}
