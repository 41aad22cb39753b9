import ArgumentParser
import WorkerApp

/// `leave-worker serve`: runs the HTTP server until SIGTERM or SIGINT.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the HTTP server (graceful shutdown on SIGTERM/SIGINT).",
        discussion: "Refuses to start against a database whose migrations are not applied (run `leave-worker migrate`)."
    )

    @OptionGroup var options: CommonOptions

    @Option(help: "host:port to listen on (LEAVE_WORKER_LISTEN, default 127.0.0.1:8448).")
    var listen: String?

    func run() async throws {
        try await runReportingErrors {
            let settings = options.settings(extra: [.listen: listen])
            try await WorkerServer(settings: settings).run()
        }
    }
}
