/// How a `PostgresPool` connects and how long callers wait for a connection.
public struct PostgresConfiguration: Sendable {
    /// A libpq connection URI (`postgresql://user@host:port/db?…`) or key=value string.
    public var url: String
    /// A URL reaching the server directly (not through a transaction pooler) for what needs one
    /// session: LISTEN and migrations. nil: `url`.
    public var directURL: String?
    /// `url` leads to a transaction pooler (PgBouncer `pool_mode = transaction`): connections assume
    /// no session state — no startup `options` (so `statementTimeout`, `lockTimeout` and the plan
    /// cache mode come from the role: `ALTER ROLE … SET`), and statements run unnamed (no
    /// server-side prepared statements, no `DEALLOCATE`).
    public var isTransactionPooled = false
    /// The most connections the pool opens (opened lazily, on first need).
    public var poolSize: Int
    /// How long `withConnection` waits for a free connection before `.poolExhausted`.
    public var acquireTimeout: Duration
    /// libpq's connect_timeout, unless the URL sets one.
    public var connectTimeoutSeconds: Int
    /// Prepared statements kept per connection before the cache is reset.
    public var statementCacheCapacity: Int
    /// `statement_timeout` of every connection (SQLSTATE 57014 past it); nil leaves the server's.
    public var statementTimeout: Duration?
    /// `lock_timeout` of every connection (SQLSTATE 55P03 past it); nil leaves the server's.
    public var lockTimeout: Duration?

    public init(url: String, poolSize: Int, acquireTimeout: Duration = .seconds(2)) {
        self.url = url
        self.poolSize = poolSize
        self.acquireTimeout = acquireTimeout
        self.connectTimeoutSeconds = 5
        self.statementCacheCapacity = 256
    }

    /// The URL for LISTEN and migrations: `directURL`, else `url`.
    public var sessionURL: String { directURL ?? url }

    /// These settings on `sessionURL`, as one session of the server's own: the readiness probe's.
    /// Behind a transaction pooler its `SELECT 1` would wait in the pooler's queue behind the
    /// workers' own statements, and a busy database would make every worker unready at once.
    var onSessionURL: PostgresConfiguration {
        var direct = self
        direct.url = sessionURL
        direct.directURL = nil
        direct.isTransactionPooled = false
        return direct
    }

    /// Server parameters set on every connection, after any the URL's `options` set (so these win);
    /// timeouts in milliseconds within what the server accepts (1 … 2^31−1).
    var sessionParameters: [(name: String, value: String)] {
        [("statement_timeout", statementTimeout), ("lock_timeout", lockTimeout)].compactMap { name, limit in
            limit.map { (name, "\(min(Int64(Int32.max), max(1, $0.wholeMilliseconds)))") }
        }
    }
}
