import Postgres

extension Settings {
    /// The pool's configuration: `LEAVE_WORKER_DATABASE_URL`, and — when a different
    /// `LEAVE_WORKER_DATABASE_DIRECT_URL` is set, i.e. the first is a transaction pooler such as
    /// PgBouncer — that direct URL for LISTEN, with no session state assumed on the pooled one.
    public func databaseConfiguration(poolSize: Int) -> PostgresConfiguration {
        var configuration = PostgresConfiguration(url: databaseURL, poolSize: poolSize)
        let direct = databaseDirectURL
        if !direct.utf8.elementsEqual(databaseURL.utf8) {
            configuration.directURL = direct
            configuration.isTransactionPooled = true
        }
        return configuration
    }
}
