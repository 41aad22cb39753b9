/// A snapshot of the pool, for metrics.
public struct PoolStatistics: Sendable, Equatable {
    /// Configured number of connections.
    public let size: Int
    /// Connections currently open (the pool connects lazily).
    public let open: Int
    /// Connections borrowed right now.
    public let inUse: Int
    /// Slots not borrowed (open or not yet connected).
    public let idle: Int
    /// Callers waiting for a connection.
    public let waiting: Int
}
