/// The bounds on one worker's HTTP connections (each a `LEAVE_WORKER_*` setting): how long a
/// connection may sit idle, take to send a request head or body, how many may be open at once,
/// and how long the worker works on one request.
public struct HTTPLimits: Sendable {
    /// A request head must be complete this long after its first byte.
    public var headerTimeout: Duration
    /// A connection with no request under way is closed after this long without a byte.
    public var idleTimeout: Duration
    /// A request body must be complete this long after its head.
    public var bodyTimeout: Duration
    /// Connections open at once; beyond this a new connection is answered 503 and closed straight away.
    public var maxConnections: Int
    /// Past this, a request is answered 503 `M_UNKNOWN` + `Retry-After` and its work cancelled.
    public var requestDeadline: Duration

    public init(headerTimeout: Duration, idleTimeout: Duration, bodyTimeout: Duration, maxConnections: Int,
                requestDeadline: Duration) {
        self.headerTimeout = headerTimeout
        self.idleTimeout = idleTimeout
        self.bodyTimeout = bodyTimeout
        self.maxConnections = maxConnections
        self.requestDeadline = requestDeadline
    }
}
