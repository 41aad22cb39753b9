/// An error from the Postgres client or pool, with the server's SQLSTATE when there is one.
public struct PostgresError: Error, CustomStringConvertible, Sendable {
    /// What failed.
    public enum Kind: Sendable, Equatable {
        /// Could not open a connection (server down, refused, bad URL, authentication).
        case connectionFailed
        /// The connection broke during a call; the pool replaces it on next use.
        case connectionLost
        /// The server rejected a statement (see `sqlState`).
        case query
        /// No pooled connection became free within the acquire timeout.
        case poolExhausted
        /// The pool was closed.
        case poolClosed
        /// An operation did not finish within its time limit.
        case timeout
    }

    public let kind: Kind
    /// The five-character SQLSTATE reported by the server, if any.
    public let sqlState: String?
    public let message: String

    public init(kind: Kind, sqlState: String? = nil, message: String) {
        self.kind = kind
        self.sqlState = sqlState
        self.message = message
    }

    /// 40001: the transaction must be retried.
    public var isSerializationFailure: Bool { sqlState == "40001" }
    /// 40P01: the transaction was chosen as a deadlock victim and must be retried.
    public var isDeadlock: Bool { sqlState == "40P01" }
    /// 57014 (query_canceled: `statement_timeout` passed, or a cancel request) or 55P03
    /// (lock_not_available: `lock_timeout` passed): the statement did not finish in its time.
    public var isStatementTimeout: Bool { sqlState == "57014" || sqlState == "55P03" }
    /// 23505: a unique constraint refused the row.
    public var isUniqueViolation: Bool { sqlState == "23505" }

    /// True when retrying later (or on another connection) may succeed: the connection or the pool
    /// failed, the transaction lost a serialization race or a deadlock, or the server is shutting
    /// down, starting up or out of connection slots.
    public var isTransient: Bool {
        switch kind {
        case .connectionFailed, .connectionLost, .poolExhausted, .timeout:
            return true
        case .poolClosed:
            return false
        case .query:
            guard let sqlState else { return false }
            return Self.transientStates.contains(sqlState)
        }
    }

    /// serialization_failure, deadlock_detected, admin_shutdown, crash_shutdown, cannot_connect_now,
    /// too_many_connections, and the connection-exception codes (not 08P01, a protocol violation).
    private static let transientStates: Set<String> = [
        "40001", "40P01", "57P01", "57P02", "57P03", "53300",
        "08000", "08001", "08003", "08004", "08006", "08007",
    ]

    public var description: String {
        if let sqlState { return "Postgres \(kind) [\(sqlState)]: \(message)" }
        return "Postgres \(kind): \(message)"
    }
}
