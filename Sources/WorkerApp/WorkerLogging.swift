import Logging
import Synchronization

/// The process's log handler, chosen once by `LEAVE_WORKER_LOG_FORMAT`: swift-log's stream handler
/// (`text`) or ``JSONLogHandler`` (`json`), both writing to standard error through ``LogOutput``. swift-log allows one bootstrap per
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
            LoggingSystem.bootstrap { label in
                StreamLogHandler(label: label, stream: LogOutput.standardError, metadataProvider: LoggingSystem.metadataProvider)
            }
        case .json: LoggingSystem.bootstrap { label in JSONLogHandler(label: label) }
        }
    }
}
