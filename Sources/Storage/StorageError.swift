import Postgres

/// Why a storage call failed. Driver errors are translated here, at the storage edge
/// (``database(_:)``), so callers need not know Postgres.
public enum StorageError: Error, Equatable, CustomStringConvertible {
    /// The room is not held by this server.
    case unknownRoom(String)
    /// The event ID is already stored in a different room (possible only with the sender-chosen
    /// IDs of room versions 1 and 2).
    case eventIDInOtherRoom(eventID: String)
    /// An import cannot be applied: the room is held with another version or another history.
    case importConflict(roomID: String, reason: String)
    /// The transaction kept losing serialization/deadlock/connection races; worth retrying later (503).
    case contended(attempts: Int, lastError: String)
    /// The database returned something the schema does not allow (a NULL in a NOT NULL column…),
    /// or a stored event that no longer parses.
    case malformedRow(String)
    /// The database could not do the call: unreachable, busy, or the statement was refused.
    case database(DatabaseFailure)

    public var description: String {
        switch self {
        case .unknownRoom(let room): "room \(room) is not held by this server"
        case .eventIDInOtherRoom(let event): "event ID \(event) is already used in another room"
        case .importConflict(let room, let reason): "cannot import \(room): \(reason)"
        case .contended(let attempts, let last): "gave up after \(attempts) attempts: \(last)"
        case .malformedRow(let what): "unexpected database row: \(what)"
        case .database(let failure): failure.description
        }
    }

    /// Runs `body`, translating what it throws: storage errors as they are, driver errors into
    /// ``database(_:)``, anything else (a cancelled task) into ``DatabaseFailure/Kind/other``.
    static func translating<T>(_ body: () async throws -> T) async throws(StorageError) -> T {
        do {
            return try await body()
        } catch let error as StorageError {
            throw error
        } catch let error as PostgresError {
            throw .database(DatabaseFailure(error))
        } catch {
            throw .database(DatabaseFailure(kind: .other, sqlState: nil, message: "\(error)"))
        }
    }
}

/// A database failure in storage's terms: what kind it is for the caller's answer, and the
/// driver's SQLSTATE and text for the log (never for a remote caller).
public struct DatabaseFailure: Equatable, Sendable, CustomStringConvertible {
    public enum Kind: Equatable, Sendable {
        /// No pooled connection became free in time.
        case poolExhausted
        /// The statement ran past `statement_timeout` or `lock_timeout`.
        case statementTimeout
        /// The database is unreachable, the connection broke, or it refused the statement.
        case unavailable
        /// Not a database error (the call was cancelled).
        case other
    }

    public let kind: Kind
    /// The server's SQLSTATE, if any.
    public let sqlState: String?
    /// The server's or driver's text.
    public let message: String
    /// For the log.
    public let description: String

    init(kind: Kind, sqlState: String?, message: String) {
        self.kind = kind
        self.sqlState = sqlState
        self.message = message
        description = message
    }

    init(_ error: PostgresError) {
        kind = error.isStatementTimeout ? .statementTimeout : error.kind == .poolExhausted ? .poolExhausted : .unavailable
        sqlState = error.sqlState
        message = error.message
        description = error.description
    }
}
