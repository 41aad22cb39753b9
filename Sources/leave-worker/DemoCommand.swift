import ArgumentParser
import Foundation
import MatrixCore
import MatrixCrypto
import RemoteHomeserver
import WorkerApp

/// `leave-worker demo …`: a remote homeserver played on loopback, to try the handshake by hand
/// against a local worker (what `scripts/run.sh` sets up).
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Play a remote homeserver on loopback to try the leave handshake by hand.",
        subcommands: [ServeRemote.self, Room.self, Leave.self]
    )

    /// The remote server's name and where its state (key, URL) lives.
    struct RemoteOptions: ParsableArguments {
        @Option(help: "The simulated remote server's name.")
        var remoteName = "remote.demo"

        @Option(help: "Directory for the remote server's signing key.")
        var stateDir = ".local/demo"

        /// The remote's signing key, created on first use and kept in the state directory.
        func signingKey() throws -> SigningKey {
            let directory = URL(fileURLWithPath: stateDir, isDirectory: true)
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let file = directory.appendingPathComponent("remote.key")
            if let text = try? String(contentsOf: file, encoding: .utf8), let key = try SigningKey.parseKeyFile(text).first {
                return key
            }
            let key = try SigningKey.generate(version: "demo")
            // Private from the start (0600), as every signing-key file should be.
            guard FileManager.default.createFile(atPath: file.path, contents: Data((key.keyFileLine + "\n").utf8),
                                                 attributes: [.posixPermissions: 0o600])
            else { throw ValidationError("cannot write \(file.path)") }
            return key
        }
    }

    /// `demo serve-remote`: publishes the remote server's keys until interrupted.
    struct ServeRemote: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Serve the remote server's keys on 127.0.0.1:PORT until stopped.")

        @OptionGroup var remote: RemoteOptions

        @Option(help: "Port to serve the remote's /_matrix/key/v2/server on.")
        var port: Int

        func run() async throws {
            try await runReportingErrors {
                let server = SimulatedHomeserver(serverName: remote.remoteName, signingKey: try remote.signingKey())
                _ = try await server.start(port: port)
                print("\(remote.remoteName) keys at http://127.0.0.1:\(port)/_matrix/key/v2/server")
                while !Task.isCancelled { try await Task.sleep(for: .seconds(3600)) }
            }
        }
    }

    /// `demo room`: prints a room (rooms import format) with members on the remote server.
    struct Room: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a demo room for `rooms import -`, created by this server.")

        @OptionGroup var options: CommonOptions
        @OptionGroup var remote: RemoteOptions

        @Option(help: "Room version.")
        var roomVersion = "10"

        @Option(help: "Members joined from the remote server.")
        var members = 5

        func run() async throws {
            try await runReportingErrors {
                let settings = options.settings()
                let resident = EventSigner(serverName: try settings.serverName, key: try settings.currentSigningKey())
                guard let version = RoomVersion(roomVersion) else { throw ValidationError("unknown room version \(roomVersion)") }
                let room = try RoomBuilder(
                    version: version, resident: resident,
                    remotes: [EventSigner(serverName: remote.remoteName, key: try remote.signingKey())],
                    members: PlannedMember.generate(count: members, membership: .join, servers: [remote.remoteName], localpartPrefix: "user")
                        + [PlannedMember(userID: "@invited:\(remote.remoteName)", membership: .invite)],
                    roomLocalpart: "demo", firstTimestamp: UnixMilliseconds.now()
                ).build()
                print(String(decoding: room.importBytes(), as: UTF8.self))
            }
        }
    }

    /// `demo leave USER`: the whole handshake as the remote server, printing every step.
    struct Leave: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Leave a room as a remote user: make_leave, sign, send_leave v2.")

        @OptionGroup var options: CommonOptions
        @OptionGroup var remote: RemoteOptions

        @Option(help: "The worker's base URL.")
        var target = "http://127.0.0.1:8448"

        @Argument(help: "The room ID.")
        var roomID: String

        @Argument(help: "The remote user who leaves, e.g. @user1:remote.demo.")
        var userID: String

        func run() async throws {
            try await runReportingErrors {
                let destination = try options.settings().serverName
                let key = try remote.signingKey()
                let requester = FederationRequester(origin: remote.remoteName, key: key, destination: destination, baseURL: target)
                let path = FederationRequester.makeLeavePath(roomID: roomID, userID: userID)
                let header = try XMatrixRequest.authorizationHeader(
                    method: "GET", uri: path, origin: remote.remoteName, destination: destination, content: nil, key: key)
                print("The make_leave request, signed by \(remote.remoteName) (copy-paste to try it yourself):")
                print("  curl -s -H 'Authorization: \(header)' '\(target)\(path)'\n")
                let template = try await requester.makeLeave(roomID: roomID, userID: userID)
                print("make_leave → \(template.status) \(String(decoding: template.body, as: UTF8.self))\n")
                guard template.status == 200, let body = template.json else { throw ExitCode.failure }
                let leave = try EventSigner(serverName: remote.remoteName, key: key)
                    .signLeave(makeLeaveResponse: body, roomID: roomID, userID: userID)
                let sent = try await requester.sendLeave(roomID: roomID, eventID: leave.eventID, pdu: leave.pdu)
                print("send_leave v2 \(leave.eventID) → \(sent.status) \(String(decoding: sent.body, as: UTF8.self))")
                guard sent.status == 200 else { throw ExitCode.failure }
            }
        }
    }
}
