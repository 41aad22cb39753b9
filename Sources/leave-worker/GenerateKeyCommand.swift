import ArgumentParser
import WorkerApp

/// `leave-worker generate-key`: prints a new Ed25519 signing key in Synapse's key-file format.
struct GenerateKeyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate-key",
        abstract: "Print a new signing key: `ed25519 <key_id_version> <unpadded-base64 seed>`.",
        discussion: """
            Write it to a file only the worker's user can read, e.g.
              (umask 077; leave-worker generate-key > signing.key)
            and point LEAVE_WORKER_SIGNING_KEY at it (a file group or others can reach is refused).
            The key ID is `ed25519:<key_id_version>`.
            """
    )

    @Option(help: "The key ID's version part ([a-zA-Z0-9_]); default a random one.")
    var keyID: String?

    func run() async throws {
        try await runReportingErrors {
            print(try Operations.generateKeyLine(version: keyID))
        }
    }
}
