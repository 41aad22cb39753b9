import Logging
import Synchronization

/// The process's log handler, chosen once by `LEAVE_WORKER_LOG_FORMAT`: ``TextLogHandler`` (`text`:
/// swift-log's stream handler, control characters escaped) or ``JSONLogHandler`` (`json`), both writing to standard error through ``LogOutput``. swift-log allows one bootstrap per
/// process, so the first call wins and later ones (several runtimes in one test process) do nothing.
enum WorkerLogging {
    private static let bootstrapped = Mutex(false)

    static func bootstrap(format: Settings.LogFormat) {
        let first = bootstrapped.withLock { done in
            defer { done = true }
            return !done
        }
        guard first else { return }
        switch format {
        case .text:
            LoggingSystem.bootstrap { label in TextLogHandler(label: label) }
        case .json: LoggingSystem.bootstrap { label in JSONLogHandler(label: label) }
        }
    }
}
