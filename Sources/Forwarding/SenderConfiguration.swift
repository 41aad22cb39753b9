import Storage

/// How a worker's ``FederationSender`` behaves, from the `LEAVE_WORKER_SENDER*` variables (all
/// optional; the worker reads them through its `Settings`, which hands their values to
/// ``init(value:)``):
///
/// | variable | meaning | default |
/// |---|---|---|
/// | `LEAVE_WORKER_SENDER` | `on` / `off`: whether this process sends (off e.g. on request-only replicas) | `on` |
/// | `LEAVE_WORKER_SENDER_LEASE_MS` | how long a claimed batch is this sender's; after that (a crashed worker) any sender may take it | 30000 |
/// | `LEAVE_WORKER_SENDER_TIMEOUT_MS` | bound on one `PUT /send/{txnId}`; must be below the lease | lease / 2 |
/// | `LEAVE_WORKER_SENDER_POLL_MS` | slow poll when no NOTIFY arrives (back-offs and leases ending) | 5000 |
/// | `LEAVE_WORKER_SENDER_BACKOFF_BASE_MS` | a failing destination's first back-off; doubles per failure | 1000 |
/// | `LEAVE_WORKER_SENDER_BACKOFF_MAX_MS` | the longest back-off | 600000 |
/// | `LEAVE_WORKER_SENDER_CONCURRENCY` | destinations sent to at once by this process | 32 |
public struct SenderConfiguration: Sendable {
    /// The variable names.
    public enum Variable: String, CaseIterable, Sendable {
        case enabled = "LEAVE_WORKER_SENDER"
        case leaseMilliseconds = "LEAVE_WORKER_SENDER_LEASE_MS"
        case requestTimeoutMilliseconds = "LEAVE_WORKER_SENDER_TIMEOUT_MS"
        case pollMilliseconds = "LEAVE_WORKER_SENDER_POLL_MS"
        case backoffBaseMilliseconds = "LEAVE_WORKER_SENDER_BACKOFF_BASE_MS"
        case backoffMaximumMilliseconds = "LEAVE_WORKER_SENDER_BACKOFF_MAX_MS"
        case concurrency = "LEAVE_WORKER_SENDER_CONCURRENCY"
    }

    /// A malformed or inconsistent value, named in the message.
    public struct Problem: Error, Equatable, CustomStringConvertible {
        public let description: String
    }

    /// The most PDUs one federation transaction may carry (the specification's limit).
    public static let maximumBatchSize = 50

    public var isEnabled = true
    public var lease: Duration = .seconds(30)
    public var requestTimeout: Duration = .seconds(15)
    public var pollInterval: Duration = .seconds(5)
    public var backoff = BackoffPolicy(base: .seconds(1), maximum: .seconds(600))
    /// PDUs per transaction, 1 … ``maximumBatchSize``.
    public var batchSize = SenderConfiguration.maximumBatchSize
    public var maximumConcurrentDestinations = 32

    /// The defaults above.
    public init() {}

    /// Reads the variables from `environment`; absent ones keep their defaults.
    public init(environment: [String: String]) throws(Problem) {
        try self.init { variable in environment[variable.rawValue] }
    }

    /// Takes each variable's value from `lookup`; absent (nil or empty) ones keep their defaults.
    public init(value lookup: (Variable) -> String?) throws(Problem) {
        func value(_ variable: Variable) -> String? {
            lookup(variable).flatMap { $0.isEmpty ? nil : $0 }
        }
        func milliseconds(_ variable: Variable, minimum: Int64) throws(Problem) -> Duration? {
            guard let text = value(variable) else { return nil }
            guard let number = Int64(text), number >= minimum, number <= 86_400_000 * 365 else {
                throw Problem(description: "\(variable.rawValue) must be a whole number of milliseconds ≥ \(minimum), got '\(text)'")
            }
            return .milliseconds(number)
        }
        switch value(.enabled) {
        case nil, "on": isEnabled = true
        case "off": isEnabled = false
        case let other?: throw Problem(description: "\(Variable.enabled.rawValue) must be 'on' or 'off', got '\(other)'")
        }
        if let lease = try milliseconds(.leaseMilliseconds, minimum: 1_000) { self.lease = lease }
        requestTimeout = try milliseconds(.requestTimeoutMilliseconds, minimum: 100) ?? lease / 2
        guard requestTimeout < lease else {
            throw Problem(description: """
                \(Variable.requestTimeoutMilliseconds.rawValue) must be below \(Variable.leaseMilliseconds.rawValue) \
                (a request still running when its lease ends would be sent twice)
                """)
        }
        if let poll = try milliseconds(.pollMilliseconds, minimum: 10) { pollInterval = poll }
        if let base = try milliseconds(.backoffBaseMilliseconds, minimum: 1) { backoff.base = base }
        if let maximum = try milliseconds(.backoffMaximumMilliseconds, minimum: 1) { backoff.maximum = maximum }
        guard backoff.base <= backoff.maximum else {
            throw Problem(description: "\(Variable.backoffBaseMilliseconds.rawValue) must not exceed \(Variable.backoffMaximumMilliseconds.rawValue)")
        }
        if let text = value(.concurrency) {
            guard let count = Int(text), (1...1_000).contains(count) else {
                throw Problem(description: "\(Variable.concurrency.rawValue) must be 1 … 1000, got '\(text)'")
            }
            maximumConcurrentDestinations = count
        }
    }
}
