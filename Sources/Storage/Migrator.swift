import Foundation
import MatrixCore
import MatrixCrypto
import Postgres

/// Applies the numbered SQL migrations of a directory (`NNNN_name.sql`, in number order), each in
/// its own transaction, recording them in `schema_migrations` with a checksum. Safe to run from
/// many processes at once: a session advisory lock admits one migrator at a time, and the others
/// then find nothing left to do.
public struct Migrator: Sendable {
    /// One migration file.
    public struct Migration: Sendable, Equatable {
        /// The file name without `.sql`, e.g. `0001_rooms_and_events`.
        public let name: String
        public let sql: String
        /// Unpadded base64 SHA-256 of the file, to notice a migration edited after it was applied.
        public let checksum: String
    }

    /// The migrations found, in the order they apply.
    public let migrations: [Migration]

    /// The advisory lock key (`pg_advisory_lock`) migrators take: "lwmigrat" in ASCII.
    static let lockKey: Int64 = 0x6C77_6D69_6772_6174

    /// Reads `directory/NNNN_*.sql`; other files are ignored. Throws `MigrationError`.
    public init(directory: URL) throws {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        } catch {
            throw MigrationError.unreadableDirectory(directory.path)
        }
        var numbered: [(number: Int, name: String, url: URL)] = []
        for file in names where file.hasSuffix(".sql") {
            let name = String(file.dropLast(4))
            let digits = name.prefix { $0.isASCII && $0.isNumber }
            guard !digits.isEmpty, name.dropFirst(digits.count).first == "_", let number = Int(digits) else { continue }
            numbered.append((number, name, directory.appendingPathComponent(file)))
        }
        numbered.sort { $0.number < $1.number }
        for (earlier, later) in zip(numbered, numbered.dropFirst()) where earlier.number == later.number {
            throw MigrationError.duplicateNumber(earlier.name, later.name)
        }
        guard !numbered.isEmpty else { throw MigrationError.noMigrations(directory.path) }
        migrations = try numbered.map { entry in
            guard let data = FileManager.default.contents(atPath: entry.url.path) else {
                throw MigrationError.unreadableFile(entry.url.path)
            }
            let bytes = [UInt8](data)
            guard let sql = String(validating: bytes, as: UTF8.self) else { throw MigrationError.unreadableFile(entry.url.path) }
            return Migration(name: entry.name, sql: sql, checksum: Base64.encodeUnpadded(SHA256.hash(bytes)))
        }
    }

    /// Applies the pending migrations in order; returns the names applied (empty when up to date).
    /// Without the statement and lock timeouts of the session (the workers' role may set them,
    /// deploy/README.md): a migration rewriting a populated table outlasts them, and so may the wait
    /// for another replica's migrator; they are the session's again afterwards.
    public func migrate(pool: PostgresPool) async throws -> [String] {
        let migrations = migrations
        return try await pool.withConnection { connection in
            try connection.execute(script: "SET statement_timeout = 0; SET lock_timeout = 0")
            defer { try? connection.execute(script: "RESET statement_timeout; RESET lock_timeout") }
            _ = try connection.query("SELECT pg_advisory_lock($1)", [.int(Self.lockKey)])
            defer { _ = try? connection.query("SELECT pg_advisory_unlock($1)", [.int(Self.lockKey)]) }
            if try !Self.hasMigrationTable(connection) {
                try connection.execute(script: """
                    CREATE TABLE schema_migrations (
                        name       text PRIMARY KEY,
                        checksum   text NOT NULL,
                        applied_at timestamptz NOT NULL DEFAULT now()
                    )
                    """)
            }
            let pending = try Self.pending(migrations, applied: Self.applied(connection))
            for migration in pending {
                try connection.transaction { connection in
                    do {
                        try connection.execute(script: migration.sql)
                    } catch {
                        throw MigrationError.failed(migration.name, "\(error)")
                    }
                    _ = try connection.query("INSERT INTO schema_migrations (name, checksum) VALUES ($1, $2)",
                                             [.text(migration.name), .text(migration.checksum)])
                }
            }
            return pending.map(\.name)
        }
    }

    /// The names of the migrations not yet applied (all of them on an empty database). Throws
    /// `MigrationError.changedAfterApplied` if an applied migration's file no longer matches.
    public func pending(pool: PostgresPool) async throws -> [String] {
        let migrations = migrations
        return try await pool.withConnection { connection in
            guard try Self.hasMigrationTable(connection) else { return migrations.map(\.name) }
            return try Self.pending(migrations, applied: Self.applied(connection)).map(\.name)
        }
    }

    private static func hasMigrationTable(_ connection: PostgresConnection) throws -> Bool {
        try connection.query("SELECT to_regclass('schema_migrations') IS NOT NULL").rows.first?.bool(0) == true
    }

    /// Applied migration names → checksums.
    private static func applied(_ connection: PostgresConnection) throws -> [String: String] {
        var applied: [String: String] = [:]
        for row in try connection.query("SELECT name, checksum FROM schema_migrations").rows {
            guard let name = row.string(0), let checksum = row.string(1) else {
                throw StorageError.malformedRow("schema_migrations row")
            }
            applied[name] = checksum
        }
        return applied
    }

    private static func pending(_ migrations: [Migration], applied: [String: String]) throws(MigrationError) -> [Migration] {
        var pending: [Migration] = []
        for migration in migrations {
            switch applied[migration.name] {
            case nil: pending.append(migration)
            case migration.checksum: break
            default: throw .changedAfterApplied(migration.name)
            }
        }
        return pending
    }
}

/// Why migrations could not be read or applied.
public enum MigrationError: Error, Equatable, CustomStringConvertible {
    case unreadableDirectory(String)
    case unreadableFile(String)
    case noMigrations(String)
    case duplicateNumber(String, String)
    /// A migration's file differs from the one applied (migrations are never edited once applied;
    /// add a new one instead).
    case changedAfterApplied(String)
    /// The migration's SQL failed; nothing of it was applied.
    case failed(String, String)

    public var description: String {
        switch self {
        case .unreadableDirectory(let path): "cannot read the migrations directory \(path)"
        case .unreadableFile(let path): "cannot read migration \(path) (or it is not UTF-8)"
        case .noMigrations(let path): "no NNNN_name.sql migrations in \(path)"
        case .duplicateNumber(let a, let b): "migrations \(a) and \(b) have the same number"
        case .changedAfterApplied(let name): "migration \(name) was changed after it was applied to this database"
        case .failed(let name, let error): "migration \(name) failed: \(error)"
        }
    }
}
