import ArgumentParser
import Foundation
import WorkerApp

/// `leave-worker`: the Matrix federation leave worker and its operator commands.
@main
struct LeaveWorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "leave-worker",
        abstract: "A stateless Matrix federation worker for the leave handshake (make_leave, send_leave).",
        discussion: """
            Every setting is an environment variable (LEAVE_WORKER_*) that a flag of the same name overrides;
            see README.md.
            """,
        version: WorkerVersion.current,
        subcommands: [ServeCommand.self, MigrateCommand.self, GenerateKeyCommand.self, RoomsCommand.self, EventsCommand.self, LoadGenCommand.self, DemoCommand.self]
    )
}

/// Runs a command body, turning any error into a one-line message on stderr and exit status 1.
func runReportingErrors(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as ExitCode {
        throw error
    } catch {
        FileHandle.standardError.write(Data("leave-worker: \(error)\n".utf8))
        throw ExitCode.failure
    }
}
