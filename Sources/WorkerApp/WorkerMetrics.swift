import Metrics
import Postgres
import Prometheus

/// The process's Prometheus registry, bootstrapped into swift-metrics exactly once (``bootstrap()``,
/// before any metric is created), and the text served by `/metrics`: request counters and latency
/// histograms recorded by the responder, key cache counters by the key fetcher, forwarding metrics
/// by the sender, pool gauges sampled at each scrape, then ``ProcessMetrics``, the log lines
/// ``LogOutput`` dropped and `leave_worker_build_info`.
final class WorkerMetrics: Sendable {
    static let shared = WorkerMetrics()

    let registry: PrometheusCollectorRegistry
    private let poolSize: Metrics.Gauge
    private let poolInUse: Metrics.Gauge
    private let poolIdle: Metrics.Gauge
    private let poolWaiting: Metrics.Gauge

    /// Bootstraps swift-metrics with this registry (once per process; later calls do nothing).
    static func bootstrap() {
        _ = shared
    }

    private init() {
        registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = [
            .microseconds(250), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10),
            .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .seconds(1), .seconds(5),
        ]
        MetricsSystem.bootstrap(factory)
        poolSize = Metrics.Gauge(label: "leave_worker_db_pool_size")
        poolInUse = Metrics.Gauge(label: "leave_worker_db_pool_in_use")
        poolIdle = Metrics.Gauge(label: "leave_worker_db_pool_idle")
        poolWaiting = Metrics.Gauge(label: "leave_worker_db_pool_waiting")
    }

    func render(pool: PoolStatistics) -> [UInt8] {
        poolSize.record(pool.size)
        poolInUse.record(pool.inUse)
        poolIdle.record(pool.idle)
        poolWaiting.record(pool.waiting)
        var text = registry.emitToBuffer()
        text.append(contentsOf: ProcessMetrics.sample().prometheusText().utf8)
        text.append(contentsOf: """
            # HELP leave_worker_log_lines_dropped_total Log lines dropped because standard error did not take them (its reader stalled).
            # TYPE leave_worker_log_lines_dropped_total counter
            leave_worker_log_lines_dropped_total \(LogOutput.standardError.droppedLines)
            # HELP leave_worker_build_info The running build (always 1).
            # TYPE leave_worker_build_info gauge
            leave_worker_build_info{version="\(WorkerVersion.current)"} 1

            """.utf8)
        return text
    }
}
