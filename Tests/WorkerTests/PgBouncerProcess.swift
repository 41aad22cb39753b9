import Foundation
import Postgres
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Debian's `pgbouncer` in transaction mode on a free loopback port, in front of the test Postgres:
/// few server connections (so client connections are multiplexed over them), no prepared-statement
/// support (1.18 has none). Started as the `postgres` user when the tests run as root (PgBouncer
/// refuses to run as root).
final class PgBouncerProcess: Sendable {
    /// The installed binary, or nil (the tests that need it are then skipped).
    static let binary: String? = ["/usr/sbin/pgbouncer", "/usr/bin/pgbouncer"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    }

    let port: Int
    private let process: Process
    private let directory: URL

    /// Starts PgBouncer in front of the server `databaseURL` points at; returns once it answers.
    init(inFrontOf databaseURL: String, serverConnections: Int = 2) async throws {
        guard let binary = Self.binary else { throw WorkerProcessError(description: "pgbouncer is not installed") }
        guard let components = URLComponents(string: databaseURL), let host = components.host, let serverPort = components.port
        else { throw WorkerProcessError(description: "not a postgresql:// URL with host and port: \(databaseURL)") }
        port = WorkerProcess.freePort()
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("pgbouncer-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o755])
        let configuration = directory.appendingPathComponent("pgbouncer.ini")
        try """
            [databases]
            * = host=\(host) port=\(serverPort) user=\(components.user ?? "postgres")
            [pgbouncer]
            listen_addr = 127.0.0.1
            listen_port = \(port)
            unix_socket_dir =
            auth_type = any
            pool_mode = transaction
            default_pool_size = \(serverConnections)
            max_client_conn = 200
            """.write(to: configuration, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: configuration.path)
        process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = (getuid() == 0 ? ["-u", "postgres"] : []) + [configuration.path]
        let log = directory.appendingPathComponent("pgbouncer.log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            guard process.isRunning else { break }
            if let probe = try? PostgresConnection(url: url(database: "postgres"), transactionPooled: true),
               (try? probe.query("SELECT 1")) != nil { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        stop()
        throw WorkerProcessError(description: "pgbouncer did not answer within 10 s: \(text)")
    }

    /// A URL of `database` through PgBouncer.
    func url(database: String) -> String {
        "postgresql://postgres@127.0.0.1:\(port)/\(database)"
    }

    /// Kills it (SIGKILL: it inherits the test runner's blocked SIGTERM and SIGINT; it holds no data).
    func stop() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        try? FileManager.default.removeItem(at: directory)
    }
}
