import CLibPQ
#if canImport(Glibc)
import Glibc
#endif

/// One libpq connection. NOT Sendable: used only inside a pool closure, on its connection's serial
/// DispatchQueue (or by one thread at a time when created directly). Every call blocks that thread.
public final class PostgresConnection {
    /// The libpq connection (PGconn *), owned by this object.
    let handle: OpaquePointer
    private var statements: PreparedStatementCache
    /// Behind a transaction pooler: every statement runs unnamed (see `PostgresConfiguration.isTransactionPooled`).
    private let runsUnnamed: Bool
    /// Set when a ROLLBACK failed or the session state is unknown: the pool must not reuse it.
    private var isMarkedBroken = false

    /// Connects with a libpq URI or key=value string. `connectTimeoutSeconds` and TCP keepalives (30 s idle)
    /// apply unless the URL sets its own; `application_name` defaults to "leave-worker"; the client
    /// encoding is always UTF-8. The server parameters (`options`) are `plan_cache_mode=force_generic_plan`,
    /// then the URL's own `options` (which may override it), then `parameters` (which win).
    /// `transactionPooled`: no `options` of ours at all (a transaction pooler refuses or drops them;
    /// the URL's own pass through) and every statement unnamed.
    public init(url: String, connectTimeoutSeconds: Int = 5, statementCacheCapacity: Int = 256,
                parameters: [(name: String, value: String)] = [], transactionPooled: Bool = false) throws(PostgresError) {
        // Keywords before "dbname" are defaults the URL may override; those after it win over the URL.
        var settings: [(String, String)] = [
            ("connect_timeout", String(max(1, connectTimeoutSeconds))),
            ("fallback_application_name", "leave-worker"),
            // Notice a vanished server within about a minute instead of the OS default of hours.
            ("keepalives_idle", "30"),
            ("keepalives_interval", "10"),
            ("keepalives_count", "3"),
            // Keepalives probe idle sockets only: a statement sent to a server that vanished without
            // a reset (a failover's old address gone dark) waited for the kernel's retransmissions,
            // ≈ 15 minutes, holding its pool slot (every slot, soon), /ready and shutdown. Bytes
            // unacknowledged for 30 s now close the connection (the server acknowledges a statement
            // at once, however long it runs).
            ("tcp_user_timeout", "30000"),
            ("dbname", url),
            ("client_encoding", "UTF8"),
        ]
        // libpq's own message for a URL it cannot parse repeats the offending part — a password
        // with a stray `%`, say — and connection errors are logged: say only that it is malformed.
        var parseError: UnsafeMutablePointer<CChar>?
        guard let parsed = PQconninfoParse(url, &parseError) else {
            PQfreemem(parseError)
            throw PostgresError(kind: .connectionFailed, message: "the database URL is malformed")
        }
        PQconninfoFree(parsed)
        if !transactionPooled { settings.append(("options", Self.options(url: url, parameters: parameters))) }
        let keywords = settings.map { strdup($0.0) } + [nil]
        let values = settings.map { strdup($0.1) } + [nil]
        defer {
            keywords.forEach { free($0) }
            values.forEach { free($0) }
        }
        guard let connection = PQconnectdbParams(keywords.map { UnsafePointer($0) }, values.map { UnsafePointer($0) }, 1)
        else { throw PostgresError(kind: .connectionFailed, message: "libpq could not allocate a connection") }
        guard PQstatus(connection) == CONNECTION_OK else {
            let message = Self.trimmedMessage(PQerrorMessage(connection))
            PQfinish(connection)
            throw PostgresError(kind: .connectionFailed, message: message)
        }
        handle = connection
        statements = PreparedStatementCache(capacity: statementCacheCapacity)
        runsUnnamed = transactionPooled
    }

    /// The value libpq uses for the connection option `keyword` (`PQconninfo`), if any.
    public func option(_ keyword: String) -> String? {
        guard let options = PQconninfo(handle) else { return nil }
        defer { PQconninfoFree(options) }
        var entry = options
        while let name = entry.pointee.keyword {
            if String(cString: name) == keyword { return entry.pointee.val.map { String(cString: $0) } }
            entry += 1
        }
        return nil
    }

    /// A pooled connection as `configuration` describes it.
    convenience init(configuration: PostgresConfiguration) throws(PostgresError) {
        try self.init(url: configuration.url, connectTimeoutSeconds: configuration.connectTimeoutSeconds,
                      statementCacheCapacity: configuration.statementCacheCapacity,
                      parameters: configuration.sessionParameters, transactionPooled: configuration.isTransactionPooled)
    }

    deinit {
        PQfinish(handle)
    }

    /// The server process serving this connection (for `pg_terminate_backend`, logs).
    public var backendProcessID: Int32 { PQbackendPID(handle) }

    /// How many prepared statements this connection holds in its cache.
    public var preparedStatementCount: Int { statements.count }

    /// False once the connection broke or was marked unusable.
    public var isConnected: Bool { PQstatus(handle) == CONNECTION_OK && !isMarkedBroken }

    /// Runs one statement with parameters via a cached prepared statement (prepared once per connection
    /// per SQL text and parameter types; text results copied out); behind a transaction pooler, as an
    /// unnamed statement (parsed, planned and run in the same round trip).
    public func query(_ sql: String, _ parameters: [PostgresValue] = []) throws(PostgresError) -> PostgresResult {
        let encoded = try EncodedParameters(parameters)
        if runsUnnamed { return try executeUnnamed(sql, encoded) }
        do throws(PostgresError) {
            return try executePrepared(statementName(for: sql, types: encoded.types), encoded)
        } catch where error.sqlState == "26000" && PQtransactionStatus(handle) == PQTRANS_IDLE {
            // The statement vanished server-side (DEALLOCATE or DISCARD ALL ran): nothing was executed
            // and no transaction was aborted, so prepare it afresh and run it once more.
            statements.removeAll()
            return try executePrepared(statementName(for: sql, types: encoded.types), encoded)
        } catch where error.sqlState == "0A000" {
            // "cached plan must not change result type": another session (a migration) changed the
            // type or collation of a column this prepared statement returns, and every run of it
            // would fail so. Nothing was executed: prepare it afresh, and run it once more unless
            // the failure aborted a transaction (the caller's next attempt then prepares it).
            guard let name = statements.forget(sql: sql, types: encoded.types) else { throw error }
            guard PQtransactionStatus(handle) == PQTRANS_IDLE else { throw error }
            _ = try simpleQuery("DEALLOCATE \(name)")
            statements.deallocated()
            return try executePrepared(statementName(for: sql, types: encoded.types), encoded)
        }
    }

    /// Runs a script of several statements with no parameters (migrations), in the simple query protocol.
    public func execute(script: String) throws(PostgresError) {
        _ = try simpleQuery(script)
    }

    /// BEGIN … COMMIT around `body`, ROLLBACK on any thrown error (rethrown). A COMMIT that the server
    /// turns into a rollback (a failed statement inside `body` was caught) throws 25P02.
    public func transaction<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        guard PQtransactionStatus(handle) == PQTRANS_IDLE else {
            throw PostgresError(kind: .query, sqlState: "25001", message: "a transaction is already in progress on this connection")
        }
        _ = try simpleQuery("BEGIN")
        let value: T
        do {
            value = try body(self)
        } catch {
            rollBackAfterFailure()
            throw error
        }
        let tag = try simpleQuery("COMMIT")
        guard tag == "COMMIT" else {
            throw PostgresError(kind: .query, sqlState: "25P02",
                                message: "transaction rolled back at COMMIT because a statement in it had failed")
        }
        return value
    }

    /// Whether the pool may hand this connection out again. Rolls back a transaction left open.
    func prepareForReuse() -> Bool {
        guard isConnected else { return false }
        switch PQtransactionStatus(handle) {
        case PQTRANS_IDLE:
            return true
        case PQTRANS_INTRANS, PQTRANS_INERROR:
            rollBackAfterFailure()
            return isConnected
        default:
            return false
        }
    }

    /// False if the connection broke while idle. An idle connection has nothing to read, so a readable
    /// socket means the server closed it or sent a shutdown notice (restart, pg_terminate_backend).
    func isUsableAfterIdling() -> Bool {
        isConnected && SocketPoll.waitReadable([PQsocket(handle)], timeoutMilliseconds: 0) == .timedOut
    }

    private func rollBackAfterFailure() {
        switch PQtransactionStatus(handle) {
        case PQTRANS_INTRANS, PQTRANS_INERROR:
            if (try? simpleQuery("ROLLBACK")) == nil { isMarkedBroken = true }
        case PQTRANS_IDLE:
            break
        default:
            isMarkedBroken = true
        }
    }

    private func statementName(for sql: String, types: [Oid]) throws(PostgresError) -> String {
        if let name = statements.name(for: sql, types: types) { return name }
        if statements.isFull {
            _ = try simpleQuery("DEALLOCATE ALL")
            statements.removeAll()
        }
        let name = statements.nextName()
        _ = try consume(PQprepare(handle, name, sql, Int32(clamping: types.count), types))
        statements.insert(sql: sql, types: types, name: name)
        return name
    }

    private func executePrepared(_ name: String, _ parameters: EncodedParameters) throws(PostgresError) -> PostgresResult {
        let result = parameters.withCArrays { values, lengths, formats in
            PQexecPrepared(handle, name, Int32(clamping: parameters.count), values, lengths, formats, 0)
        }
        return try consume(result)
    }

    private func executeUnnamed(_ sql: String, _ parameters: EncodedParameters) throws(PostgresError) -> PostgresResult {
        let result = parameters.withCArrays { values, lengths, formats in
            PQexecParams(handle, sql, Int32(clamping: parameters.count), parameters.types, values, lengths, formats, 0)
        }
        return try consume(result)
    }

    /// Runs `sql` with PQexec; returns the command tag of its last statement.
    private func simpleQuery(_ sql: String) throws(PostgresError) -> String {
        guard let result = PQexec(handle, sql) else { throw connectionError() }
        defer { PQclear(result) }
        try check(result)
        return String(cString: PQcmdStatus(result))
    }

    /// Copies a result out, always clearing it; throws the server's error if it is one.
    private func consume(_ result: OpaquePointer?) throws(PostgresError) -> PostgresResult {
        guard let result else { throw connectionError() }
        defer { PQclear(result) }
        try check(result)
        return PostgresResult(copying: result)
    }

    private func check(_ result: OpaquePointer) throws(PostgresError) {
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY:
            return
        default:
            throw error(from: result)
        }
    }

    private func error(from result: OpaquePointer) -> PostgresError {
        func field(_ code: UInt8) -> String? {
            PQresultErrorField(result, Int32(code)).map { String(cString: $0) }
        }
        let primary = field(UInt8(ascii: "M")).map(Self.oneLine) ?? Self.trimmedMessage(PQresultErrorMessage(result))
        let message = field(UInt8(ascii: "D")).map { "\(primary) (\(Self.oneLine($0)))" } ?? primary
        let kind: PostgresError.Kind = PQstatus(handle) == CONNECTION_OK ? .query : .connectionLost
        return PostgresError(kind: kind, sqlState: field(UInt8(ascii: "C")), message: message)
    }

    private func connectionError() -> PostgresError {
        let kind: PostgresError.Kind = PQstatus(handle) == CONNECTION_OK ? .query : .connectionLost
        return PostgresError(kind: kind, message: Self.trimmedMessage(PQerrorMessage(handle)))
    }

    /// libpq's message on one line (`oneLine`). Its connection errors go on over a tab-indented
    /// line ("Is the server running on that host…?"), one attempt's lines after another's for a
    /// name with several addresses; a command's failure is one line on stderr.
    private static func trimmedMessage(_ text: UnsafePointer<CChar>?) -> String {
        guard let text else { return "unknown libpq error" }
        let message = oneLine(String(cString: text))
        return message.isEmpty ? "unknown libpq error" : message
    }

    /// Each line trimmed, the non-empty ones joined with "; ": libpq's messages, and a server
    /// error's message and detail (a function's RAISE may span lines).
    private static func oneLine(_ text: String) -> String {
        text.split(whereSeparator: \.isNewline).compactMap { line -> Substring? in
            guard let first = line.firstIndex(where: { !$0.isWhitespace }), let last = line.lastIndex(where: { !$0.isWhitespace })
            else { return nil }
            return line[first...last]
        }.joined(separator: "; ")
    }
}

@available(*, unavailable, message: "a connection belongs to one queue; borrow it through PostgresPool")
extension PostgresConnection: Sendable {}
