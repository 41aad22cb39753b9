import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Postgres

/// Throwaway databases on the test cluster started by the test command (scripts/pg.sh), which exports
/// `LEAVE_WORKER_TEST_DATABASE_URL` (admin URL) and `LEAVE_WORKER_TEST_PG_DIR` (cluster directory).
public enum TestDatabase {
    /// The cluster's admin URL. Stops the test run with a clear message if the variable is unset.
    public static var adminURL: String {
        guard let url = ProcessInfo.processInfo.environment["LEAVE_WORKER_TEST_DATABASE_URL"], !url.isEmpty else {
            fatalError("""
                LEAVE_WORKER_TEST_DATABASE_URL is not set. Start a cluster with \
                `scripts/pg.sh start /tmp/pg-test` and export LEAVE_WORKER_TEST_DATABASE_URL=<printed URL> \
                and LEAVE_WORKER_TEST_PG_DIR=/tmp/pg-test before running the tests.
                """)
        }
        return url
    }

    /// Creates an empty database `<prefix>_<random>` and returns its URL.
    public static func create(prefix: String = "t") throws -> String {
        let safePrefix = String(prefix.lowercased().unicodeScalars.filter { scalar in
            ("a"..."z").contains(scalar) || ("0"..."9").contains(scalar) || scalar == "_"
        }.map(Character.init).prefix(40))
        let name = "\(safePrefix.isEmpty ? "t" : safePrefix)_\(String(UInt64.random(in: 0...UInt64.max), radix: 36))"
        let admin = try PostgresConnection(url: adminURL)
        try admin.execute(script: "CREATE DATABASE \"\(name)\"")
        return try url(of: adminURL, replacingDatabaseWith: name)
    }

    /// Drops a database made by `create` (closing its open connections), so the cluster stays small
    /// and restarts stay quick. Databases that were never dropped go away with the cluster.
    public static func drop(_ url: String) throws {
        guard let name = URLComponents(string: url)?.path.dropFirst(), !name.isEmpty,
              name.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "_") })
        else { throw TestDatabaseError("not a database made by TestDatabase.create: \(url)") }
        let admin = try PostgresConnection(url: adminURL)
        try admin.execute(script: "DROP DATABASE IF EXISTS \"\(name)\" WITH (FORCE)")
    }

    /// Restarts the test cluster on the same port (`scripts/pg.sh restart $LEAVE_WORKER_TEST_PG_DIR`);
    /// `likeACrash`: stopped as a crash stops it — no checkpoint, WAL not yet written lost.
    public static func restartServer(likeACrash: Bool = false) throws {
        guard let directory = ProcessInfo.processInfo.environment["LEAVE_WORKER_TEST_PG_DIR"], !directory.isEmpty else {
            throw TestDatabaseError("LEAVE_WORKER_TEST_PG_DIR is not set; cannot restart the test cluster")
        }
        let script = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("scripts/pg.sh")
        let status = try runToCompletion(["/bin/bash", script.path, "restart", directory] + (likeACrash ? ["immediate"] : []))
        guard status == 0 else {
            throw TestDatabaseError("\(script.path) restart \(directory) exited with status \(status)")
        }
    }

    /// Runs a program and waits for it with waitpid. (Foundation's Process waits for EOF on a socket the
    /// child inherits, which the daemonized postmaster keeps open, so it would never return here.)
    private static func runToCompletion(_ arguments: [String]) throws -> Int32 {
        let argv = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, arguments[0], nil, nil, argv, environ)
        guard spawned == 0 else {
            throw TestDatabaseError("cannot start \(arguments[0]): \(String(cString: strerror(spawned)))")
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 {
            guard errno == EINTR else { throw TestDatabaseError("waitpid failed: \(String(cString: strerror(errno)))") }
        }
        let exitedNormally = status & 0x7F == 0
        return exitedNormally ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
    }

    /// `url` with its database (the path segment after the host) replaced by `database`.
    static func url(of url: String, replacingDatabaseWith database: String) throws -> String {
        guard var components = URLComponents(string: url), components.host != nil else {
            throw TestDatabaseError("LEAVE_WORKER_TEST_DATABASE_URL is not a postgresql:// URI: \(url)")
        }
        components.path = "/" + database
        guard let result = components.string else {
            throw TestDatabaseError("cannot build a database URL from \(url)")
        }
        return result
    }
}

/// A test-environment problem (missing variable, failed script).
public struct TestDatabaseError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
