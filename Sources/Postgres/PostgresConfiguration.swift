/// How a `PostgresPool` connects and how long callers wait for a connection.
public struct PostgresConfiguration: Sendable {
    /// A libpq connection URI (`postgresql://user@host:port/db?…`) or key=value string.
    public var url: String
    /// The most connections the pool opens (opened lazily, on first need).
    public var poolSize: Int
    /// How long `withConnection` waits for a free connection before `.poolExhausted`.
    public var acquireTimeout: Duration
    /// libpq's connect_timeout, unless the URL sets one.
    public var connectTimeoutSeconds: Int
    /// Prepared statements kept per connection before the cache is reset.
    public var statementCacheCapacity: Int

    public init(url: String, poolSize: Int, acquireTimeout: Duration = .seconds(2)) {
        self.url = url
        self.poolSize = poolSize
        self.acquireTimeout = acquireTimeout
        self.connectTimeoutSeconds = 5
        self.statementCacheCapacity = 256
    }
}
