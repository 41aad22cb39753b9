import Federation
import Foundation

/// The worker's settings: every `LEAVE_WORKER_*` environment variable of INTERFACE.md, each of
/// which a command-line flag may override. Parsing is strict: a malformed value is a clear error.
public struct Settings: Sendable {
    /// A setting that is missing or malformed, with the variable's name in the message.
    public struct Problem: Error, CustomStringConvertible, Equatable {
        public let description: String
    }

    /// Variable names, one place for all commands.
    public enum Variable: String, CaseIterable, Sendable {
        case serverName = "LEAVE_WORKER_SERVER_NAME"
        case signingKey = "LEAVE_WORKER_SIGNING_KEY"
        case databaseURL = "LEAVE_WORKER_DATABASE_URL"
        case listen = "LEAVE_WORKER_LISTEN"
        case poolSize = "LEAVE_WORKER_DB_POOL_SIZE"
        case federationOverrides = "LEAVE_WORKER_FEDERATION_OVERRIDES"
        case logLevel = "LEAVE_WORKER_LOG_LEVEL"
        case sqlDirectory = "LEAVE_WORKER_SQL_DIR"
        case keyValiditySeconds = "LEAVE_WORKER_KEY_VALIDITY_SECONDS"
        case keyFetchTimeoutSeconds = "LEAVE_WORKER_KEY_FETCH_TIMEOUT_SECONDS"
        case oldSigningKeys = "LEAVE_WORKER_OLD_SIGNING_KEYS"
        case rateLimitPerSecond = "LEAVE_WORKER_RATE_LIMIT_PER_SECOND"
        case rateLimitBurst = "LEAVE_WORKER_RATE_LIMIT_BURST"
        case rateLimitOrigins = "LEAVE_WORKER_RATE_LIMIT_ORIGINS"
        case headerTimeoutMilliseconds = "LEAVE_WORKER_HEADER_TIMEOUT_MS"
        case idleTimeoutMilliseconds = "LEAVE_WORKER_IDLE_TIMEOUT_MS"
        case bodyTimeoutMilliseconds = "LEAVE_WORKER_BODY_TIMEOUT_MS"
        case maxConnections = "LEAVE_WORKER_MAX_CONNECTIONS"
        case requestDeadlineMilliseconds = "LEAVE_WORKER_REQUEST_DEADLINE_MS"
        case statementTimeoutMilliseconds = "LEAVE_WORKER_DB_STATEMENT_TIMEOUT_MS"
        case lockTimeoutMilliseconds = "LEAVE_WORKER_DB_LOCK_TIMEOUT_MS"
        case federationAllowedNetworks = "LEAVE_WORKER_FEDERATION_ALLOWED_NETWORKS"
        case maxAuthorizationHeaders = "LEAVE_WORKER_MAX_AUTHORIZATION_HEADERS"
        case maxSignaturesPerServer = "LEAVE_WORKER_MAX_SIGNATURES_PER_SERVER"
        case keyFetchConcurrency = "LEAVE_WORKER_KEY_FETCH_CONCURRENCY"
        case keyFetchQueueMilliseconds = "LEAVE_WORKER_KEY_FETCH_QUEUE_MS"
        case keyDocumentMaxBytes = "LEAVE_WORKER_KEY_DOCUMENT_MAX_BYTES"
        case keyDocumentMaxKeys = "LEAVE_WORKER_KEY_DOCUMENT_MAX_KEYS"
        case federationCacheSize = "LEAVE_WORKER_FEDERATION_CACHE_SIZE"
    }

    /// The raw values: the environment with flag overrides applied on top.
    public let values: [Variable: String]

    public init(environment: [String: String] = ProcessInfo.processInfo.environment, overrides: [Variable: String] = [:]) {
        var values: [Variable: String] = [:]
        for variable in Variable.allCases {
            if let value = environment[variable.rawValue], !value.isEmpty { values[variable] = value }
        }
        for (variable, value) in overrides { values[variable] = value }
        self.values = values
    }

    public func required(_ variable: Variable) throws(Problem) -> String {
        guard let value = values[variable] else {
            throw Problem(description: "\(variable.rawValue) is required (or its flag)")
        }
        return value
    }

    public var serverName: String { get throws(Problem) { try required(.serverName) } }

    public var databaseURL: String { values[.databaseURL] ?? "postgresql:///leave_worker" }

    /// `host:port` to listen on; IPv6 hosts in brackets (`[::1]:8448`).
    public var listen: (host: String, port: Int) {
        get throws(Problem) {
            let text = values[.listen] ?? "127.0.0.1:8448"
            guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
                (0...65535).contains(port)
            else { throw Problem(description: "\(Variable.listen.rawValue) must be host:port, got '\(text)'") }
            var host = String(text[..<colon])
            if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            guard !host.isEmpty else { throw Problem(description: "\(Variable.listen.rawValue) has no host: '\(text)'") }
            return (host, port)
        }
    }

    /// Connections per process: by default two per core, at least 4.
    public var poolSize: Int {
        get throws(Problem) {
            try positiveInteger(.poolSize, default: max(4, ProcessInfo.processInfo.activeProcessorCount * 2))
        }
    }

    public var keyValiditySeconds: Int { get throws(Problem) { try positiveInteger(.keyValiditySeconds, default: 86_400) } }
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

    public var logLevel: String {
        get throws(Problem) {
            let level = values[.logLevel] ?? "info"
            let known = ["trace", "debug", "info", "notice", "warning", "error", "critical"]
            guard known.contains(level) else {
                throw Problem(description: "\(Variable.logLevel.rawValue) must be one of \(known.joined(separator: ", ")), got '\(level)'")
            }
            return level
        }
    }

    /// A positive number of milliseconds, at most a day.
    private func milliseconds(_ variable: Variable, default fallback: Int) throws(Problem) -> Duration {
        let value = try positiveInteger(variable, default: fallback)
        guard value <= 86_400_000 else {
            throw Problem(description: "\(variable.rawValue) must be at most 86400000 (a day), got '\(value)'")
        }
        return .milliseconds(value)
    }

    private func positiveInteger(_ variable: Variable, default fallback: Int) throws(Problem) -> Int {
        guard let text = values[variable] else { return fallback }
        guard let value = Int(text), value > 0 else {
            throw Problem(description: "\(variable.rawValue) must be a positive integer, got '\(text)'")
        }
        return value
    }
}
