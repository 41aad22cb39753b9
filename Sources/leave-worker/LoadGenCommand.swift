import ArgumentParser
import Foundation
import LoadGen
import WorkerApp

/// `leave-worker loadgen`: plays remote homeservers on loopback and drives leaves against a target.
struct LoadGenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "loadgen",
        abstract: "Load-test a worker or a load balancer with make_leave + send_leave pairs.",
        discussion: """
            Plays the remote homeservers named in LEAVE_WORKER_FEDERATION_OVERRIDES (their key servers on the \
            loopback ports given there — the workers under test must use the same overrides), creates rooms as \
            this server (LEAVE_WORKER_SERVER_NAME, LEAVE_WORKER_SIGNING_KEY) with members on those servers, imports \
            them through the same code path as `rooms import`, then drives leaves. Prints throughput, latency \
            percentiles per endpoint, errors by status and errcode, its own CPU use, and finally checks in \
            Postgres that every leave answered 200 is stored (`lost: N`). Exits 1, with the reason on one line \
            of standard error, when a leave was lost or the forwarding check failed. Refuses targets outside \
            loopback unless --allow-remote.
            """
    )

    @OptionGroup var options: CommonOptions

    @Option(help: "Base URL of the worker or load balancer under test.")
    var target: String

    @Option(help: "pairs (make_leave, sign, send_leave), send-only (leaves signed before the clock starts) or make-only (make_leave over and over; nobody leaves).")
    var mode: String = LoadGenOptions.Mode.pairs.rawValue

    @Option(help: "Rooms to create.")
    var rooms = 8

    @Option(help: "Joined members per room (each leaves at most once).")
    var members = 500

    @Option(help: "Room version of the rooms.")
    var roomVersion = "10"

    @Option(help: "Requests in flight at once.")
    var concurrency = 8

    @Option(help: "Seconds to run (also stops when --count leaves were attempted or members run out).")
    var duration: Int = 60

    @Option(help: "Stop after this many leaves.")
    var count: Int?

    @Option(help: "Start at most this many leaves (or make_leaves) per second, evenly spaced (default: as fast as --concurrency allows).")
    var rate: Double?

    @Flag(help: "Allow a target outside the loopback range.")
    var allowRemote = false

    @Option(help: """
        After the run, wait up to this many seconds for the forwarding backlog to drain; report how long it took from the \
        last answer, and the machine's CPU split over the run and the drain.
        """)
    var drainTimeout: Int?

    @Flag(help: """
        Check after the run (and the drain) that every accepted leave reached each played server it was due to exactly once, \
        in transactions authenticated (X-Matrix) as this server.
        """)
    var verifyForwarding = false

    @Flag(help: "Print the report as JSON.")
    var json = false

    @Flag(help: "No live progress line on standard error.")
    var quiet = false

    func run() async throws {
        try await runReportingErrors {
            guard let mode = LoadGenOptions.Mode(rawValue: mode) else {
                throw ValidationError("--mode must be pairs, send-only or make-only")
            }
            let loadOptions = LoadGenOptions(
                target: target, mode: mode, rooms: rooms, membersPerRoom: members, roomVersion: roomVersion,
                concurrency: concurrency, duration: .seconds(duration), count: count, rate: rate, allowRemote: allowRemote,
                json: json, progress: !quiet && isatty(STDERR_FILENO) != 0,
                drainTimeout: drainTimeout.map { .seconds($0) }, verifyForwarding: verifyForwarding)
            let report = try await LoadGenerator.run(options: loadOptions, settings: options.settings())
            print(json ? String(decoding: report.json.compactBytes(), as: UTF8.self) : report.text)
            if let failure = report.failure { throw LoadGenError.checkFailed(failure) }
        }
    }
}
