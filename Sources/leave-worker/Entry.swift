import ArgumentParser
import WorkerApp

/// The process's entry point: `AsyncParsableCommand.main()`, except that the command line is
/// parsed before any task is started, so that `serve` can first make NIO's event loops Swift's
/// global executor (``EventLoopExecutor``) — which must happen on the main thread before the
/// first task is enqueued. The operator commands keep Swift's own pool.
@main
enum Entry {
    static func main() async {
        do {
            var command = try LeaveWorkerCommand.parseAsRoot()
            if command is ServeCommand { EventLoopExecutor.install() }
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            LeaveWorkerCommand.exit(withError: error)
        }
    }
}
