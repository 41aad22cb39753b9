import Federation

/// The bounds and tunables of a serving worker (defaults in README.md, "Configuration").
extension Settings {
    /// At most 7 days: what receivers honour (room versions 5+), and far from where
    /// `valid_until_ts` in milliseconds would leave JSON's exact integers (2^53) or overflow.
    public var keyValiditySeconds: Int {
        get throws(Problem) { try positiveInteger(.keyValiditySeconds, default: 86_400, maximum: 604_800) }
    }
    public var keyFetchTimeoutSeconds: Int { get throws(Problem) { try positiveInteger(.keyFetchTimeoutSeconds, default: 5) } }

    /// Authenticated requests a second one origin may make to this process (average).
    public var rateLimitPerSecond: Int { get throws(Problem) { try positiveInteger(.rateLimitPerSecond, default: 10_000) } }
    /// How many requests above the average one origin may make at once.
    public var rateLimitBurst: Int { get throws(Problem) { try positiveInteger(.rateLimitBurst, default: 20_000) } }

    /// Origins whose rate-limit buckets one process keeps (least recently seen forgotten first).
    public var rateLimitOrigins: Int { get throws(Problem) { try positiveInteger(.rateLimitOrigins, default: 10_000) } }

    /// The bounds on HTTP connections and requests.
    public var httpLimits: HTTPLimits {
        get throws(Problem) {
            HTTPLimits(
                headerTimeout: try milliseconds(.headerTimeoutMilliseconds, default: 10_000),
                idleTimeout: try milliseconds(.idleTimeoutMilliseconds, default: 60_000),
                bodyTimeout: try milliseconds(.bodyTimeoutMilliseconds, default: 30_000),
                maxConnections: try positiveInteger(.maxConnections, default: 1_000),
                requestDeadline: try milliseconds(.requestDeadlineMilliseconds, default: 30_000))
        }
    }

    /// Postgres `statement_timeout` of the worker's connections.
    public var statementTimeout: Duration { get throws(Problem) { try milliseconds(.statementTimeoutMilliseconds, default: 10_000) } }
    /// Postgres `lock_timeout` of the worker's connections.
    public var lockTimeout: Duration { get throws(Problem) { try milliseconds(.lockTimeoutMilliseconds, default: 3_000) } }

    /// Restricted networks (loopback, private, link-local, …) outbound federation may reach anyway,
    /// besides the servers named in the overrides. Empty by default: public addresses only.
    public var federationAllowedNetworks: OutboundAddressPolicy {
        get throws(Problem) {
            switch OutboundAddressPolicy.parse(values[.federationAllowedNetworks] ?? "") {
            case .success(let policy): return policy
            case .failure(let error):
                throw Problem(description: "\(Variable.federationAllowedNetworks.rawValue): \(error)")
            }
        }
    }

    /// How many `Authorization` headers of one request are tried (each may cost a key look-up).
    public var maxAuthorizationHeaders: Int { get throws(Problem) { try positiveInteger(.maxAuthorizationHeaders, default: 4) } }
    /// How many signatures per required server of an event are considered.
    public var maxSignaturesPerServer: Int { get throws(Problem) { try positiveInteger(.maxSignaturesPerServer, default: 4) } }
    /// Key fetches one process runs at once.
    public var keyFetchConcurrency: Int { get throws(Problem) { try positiveInteger(.keyFetchConcurrency, default: 32) } }
    /// How long a key fetch waits for a free slot before the request is answered 503.
    public var keyFetchQueueMilliseconds: Int { get throws(Problem) { try positiveInteger(.keyFetchQueueMilliseconds, default: 1000) } }
    /// The largest key document accepted from a remote server.
    public var keyDocumentMaxBytes: Int { get throws(Problem) { try positiveInteger(.keyDocumentMaxBytes, default: 65_536) } }
    /// The most keys (`verify_keys` + `old_verify_keys`) a remote key document may list.
    public var keyDocumentMaxKeys: Int { get throws(Problem) { try positiveInteger(.keyDocumentMaxKeys, default: 16) } }
    /// Entries of each in-memory federation map (servers' keys, fetch failures, discovery answers).
    public var federationCacheSize: Int { get throws(Problem) { try positiveInteger(.federationCacheSize, default: 10_000) } }

}
