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

    func run() async throws {
        try await runReportingErrors {
            try await WorkerServer(settings: options.settings()).run()
        }
    }
}
