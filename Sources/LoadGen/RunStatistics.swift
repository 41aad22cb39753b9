import Histogram

/// A federation endpoint whose latency is measured.
public enum Endpoint: String, Sendable, CaseIterable, Comparable {
    case makeLeave = "make_leave"
    case sendLeave = "send_leave"
    /// make_leave + signing + send_leave, as one leaving server sees it.
    case pair

    private var order: Int {
        switch self {
        case .makeLeave: 0
        case .sendLeave: 1
        case .pair: 2
        }
    }

    public static func < (lhs: Endpoint, rhs: Endpoint) -> Bool {
        lhs.order < rhs.order
    }
}

/// One kind of failed request: the endpoint and either the HTTP status with its errcode, or the
/// reason no answer came (connection refused, timeout, unusable template).
public struct FailureKind: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let endpoint: Endpoint
    /// The HTTP status; nil when the request got no usable answer.
    public let status: Int?
    /// The Matrix errcode of the answer, or the reason there was no usable answer.
    public let detail: String

    public init(endpoint: Endpoint, status: Int?, detail: String) {
        self.endpoint = endpoint
        self.status = status
        self.detail = detail
    }

    public var description: String {
        "\(endpoint.rawValue) \(status.map(String.init) ?? "no answer") \(detail)"
    }

    public static func < (lhs: FailureKind, rhs: FailureKind) -> Bool {
        if lhs.endpoint != rhs.endpoint { return lhs.endpoint < rhs.endpoint }
        return (lhs.status ?? 0, lhs.detail) < (rhs.status ?? 0, rhs.detail)
    }
}

/// A leave the target answered 200 to: it must be stored.
public struct AcceptedLeave: Sendable, Hashable {
    public let roomID: String
    public let userID: String
    public let eventID: String

    public init(roomID: String, userID: String, eventID: String) {
        self.roomID = roomID
        self.userID = userID
        self.eventID = eventID
    }
}

/// What one driver task measured; tasks merge theirs at the end (no sharing on the hot path).
public struct RunStatistics: Sendable {
    /// Latencies in microseconds, by endpoint (every answered request, whatever its status).
    public private(set) var latencies: [Endpoint: Histogram<UInt64>] = [:]
    public private(set) var failures: [FailureKind: Int] = [:]
    public private(set) var accepted: [AcceptedLeave] = []
    /// Leaves started (each is one pair, one send in send-only mode, one make_leave in make-only mode).
    public private(set) var attempted = 0
    /// Attempts that succeeded: leaves accepted, or (make-only) usable templates.
    public private(set) var succeeded = 0

    /// The largest latency recorded exactly (1 hour); longer ones are clamped to it.
    static let highestTrackableMicroseconds: UInt64 = 3_600_000_000

    public init() {}

    public mutating func recordAttempt() {
        attempted += 1
    }

    public mutating func record(_ endpoint: Endpoint, microseconds: UInt64) {
        let value = min(max(microseconds, 1), Self.highestTrackableMicroseconds)
        _ = latencies[endpoint, default: Self.emptyHistogram()].record(value)
    }

    public mutating func recordFailure(_ kind: FailureKind) {
        failures[kind, default: 0] += 1
    }

    public mutating func recordAccepted(_ leave: AcceptedLeave) {
        accepted.append(leave)
        succeeded += 1
    }

    /// A make_leave answered with a usable template (make-only mode: nothing is stored).
    public mutating func recordTemplate() {
        succeeded += 1
    }

    public mutating func merge(_ other: RunStatistics) {
        for (endpoint, histogram) in other.latencies {
            latencies[endpoint, default: Self.emptyHistogram()].add(histogram)
        }
        failures.merge(other.failures, uniquingKeysWith: +)
        accepted += other.accepted
        attempted += other.attempted
        succeeded += other.succeeded
    }

    /// Total failed requests.
    public var failureCount: Int { failures.values.reduce(0, +) }

    static func emptyHistogram() -> Histogram<UInt64> {
        Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: highestTrackableMicroseconds,
                          numberOfSignificantValueDigits: .three)
    }
}
