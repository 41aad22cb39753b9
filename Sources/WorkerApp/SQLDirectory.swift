import Foundation

/// Finds the directory of SQL migrations: `LEAVE_WORKER_SQL_DIR`, else `./sql`, else a `sql/`
/// beside or above the executable (a build tree or an install prefix), else
/// `/usr/share/leave-worker/sql` (the container image's place).
enum SQLDirectory {
    struct NotFound: Error, CustomStringConvertible {
        var description: String {
            "no SQL migrations found: set LEAVE_WORKER_SQL_DIR (or --sql-dir) to the directory holding sql/*.sql"
        }
    }

    static func resolve(_ settings: Settings) throws -> URL {
        if let configured = settings.values[.sqlDirectory] {
            return URL(fileURLWithPath: configured, isDirectory: true)
        }
        var candidates = [URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent("sql")]
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<6 {
            candidates.append(directory.appendingPathComponent("sql"))
            candidates.append(directory.appendingPathComponent("share/leave-worker/sql"))
            directory = directory.deletingLastPathComponent()
        }
        candidates.append(URL(fileURLWithPath: "/usr/share/leave-worker/sql"))
        for candidate in candidates where containsMigrations(candidate) {
            return candidate
        }
        throw NotFound()
    }

    private static func containsMigrations(_ url: URL) -> Bool {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []
        return names.contains { $0.hasSuffix(".sql") && $0.first?.isNumber == true }
    }
}
