import ArgumentParser
import Foundation
import WorkerApp

/// `leave-worker rooms …`: import a room, list its members.
struct RoomsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rooms",
        abstract: "Import rooms and inspect their members.",
        subcommands: [Import.self, Members.self]
    )

    /// `leave-worker rooms import FILE`.
    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Import a room: {\"room_version\": \"N\", \"events\": [PDU, …]} (FILE, or - for stdin).",
            discussion: """
                Every event is checked (format, content hash, signatures — fetching the signers' keys — and auth
                rules) and all are stored in one transaction. For a room already held, the events it does not hold
                yet are appended (a longer history, or a batch extending it); re-importing the same file changes nothing.
                Prints a JSON summary; on any bad event exits non-zero, names the event and stores nothing.
                """
        )

        @OptionGroup var options: CommonOptions

        @Argument(help: "The room file, or - for standard input.")
        var file: String

        func run() async throws {
            try await runReportingErrors {
                let data: Data
                if file == "-" {
                    data = FileHandle.standardInput.readDataToEndOfFile()
                } else {
                    data = try Data(contentsOf: URL(fileURLWithPath: file))
                }
                let summary = try await Operations.importRoom(settings: options.settings(), bytes: [UInt8](data))
                print(summary)
            }
        }
    }

    /// `leave-worker rooms members ROOM_ID`.
    struct Members: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the room's members as JSON: [{\"user_id\", \"membership\", \"event_id\"}, …]."
        )

        @OptionGroup var options: CommonOptions

        @Argument(help: "The room ID.")
        var roomID: String

        func run() async throws {
            try await runReportingErrors {
                print(try await Operations.members(settings: options.settings(), roomID: roomID))
            }
        }
    }
}
