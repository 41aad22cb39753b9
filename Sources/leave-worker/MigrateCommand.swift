import ArgumentParser
import WorkerApp

/// `leave-worker migrate`: applies pending SQL migrations (idempotent, safe from many replicas).
struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Apply the SQL migrations in sql/ (idempotent; safe to run from many replicas at once)."
    )

    @OptionGroup var options: CommonOptions

    func run() async throws {
        try await runReportingErrors {
            let applied = try await Operations.migrate(settings: options.settings())
            print(applied.isEmpty ? "database is up to date" : "applied: \(applied.joined(separator: ", "))")
        }
    }
}
