import Logging
import ServiceLifecycle
import Synchronization

/// Whether this worker wants traffic: true until the graceful shutdown begins. `/ready` (on either
/// listener) answers 503 from then on, so load balancers and Kubernetes take the worker out of
/// rotation before its federation listener closes.
final class Readiness: Sendable {
    private let accepting = Atomic(true)

    var isAccepting: Bool { accepting.load(ordering: .relaxed) }

    func beginDraining() {
        accepting.store(false, ordering: .relaxed)
    }
}

/// The last service of the worker's group, so the first a graceful shutdown stops: it fails
/// readiness and runs `onDrain`, then waits `drain` (`LEAVE_WORKER_SHUTDOWN_DRAIN_MS`, matched to
/// Kubernetes' preStop) before the federation listener is told to close.
struct DrainService: Service {
    let readiness: Readiness
    let drain: Duration
    let logger: Logger
    /// What starts stopping with the drain (the sender's claiming).
    var onDrain: @Sendable () -> Void = {}

    func run() async {
        try? await gracefulShutdown()
        readiness.beginDraining()
        onDrain()
        guard drain > .zero else { return }
        logger.info("draining: /ready answers 503", metadata: ["drain_ms": .stringConvertible(Int(drain / .milliseconds(1)))])
        try? await Task.sleep(for: drain)
    }
}
