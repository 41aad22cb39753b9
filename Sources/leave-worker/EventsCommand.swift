import ArgumentParser
import Foundation
import WorkerApp

/// `leave-worker events …`: the events the fleet accepted, for the homeserver of record.
struct EventsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "events",
        abstract: "Follow the events the fleet accepted (the homeserver feed).",
        subcommands: [Follow.self]
    )

    /// `leave-worker events follow --from POS`.
    struct Follow: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the accepted events after a stream position as NDJSON, then each new one.",
            discussion: """
                One line per event: {"stream_position", "room_id", "event_id", "pdu"} — the stored PDU with this
                server's signature, as GET /_leave_worker/v1/events returns it. Reads the database directly. Resume
                with --from set to the last stream_position applied (delivery is at least once, in stream order).
                """
        )

        @OptionGroup var options: CommonOptions

        @Option(help: "The stream position to start after (0: from the beginning).")
        var from: Int64 = 0

        @Flag(help: "Exit once every accepted event so far is printed, instead of waiting for new ones.")
        var once = false

        func run() async throws {
            try await runReportingErrors {
                try await FeedFollower.follow(settings: options.settings(), from: from, once: once) { line in
                    FileHandle.standardOutput.write(Data(line))
                }
            }
        }
    }
}
