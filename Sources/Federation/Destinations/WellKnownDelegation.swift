import MatrixCore

/// The answer of `GET https://<host>/.well-known/matrix/server` and how long to trust it.
enum WellKnownDelegation {
    /// Shortest, default and longest cache lifetime of a valid answer, and bounds for failures.
    static let minimumLifetime: Duration = .seconds(5 * 60)
    static let defaultLifetime: Duration = .seconds(24 * 3600)
    static let maximumLifetime: Duration = .seconds(48 * 3600)
    static let firstFailureLifetime: Duration = .seconds(2 * 60)
    static let maximumFailureLifetime: Duration = .seconds(3600)
    /// The largest `.well-known` body read.
    static let maximumBodyBytes = 64 * 1024

    /// The delegated server name of a 200 answer, or `nil` for anything invalid (non-200, not JSON,
    /// not an object, `m.server` missing or not a server name).
    static func delegatedName(status: Int, body: [UInt8]) -> ServerName? {
        guard status == 200,
              let document = try? JSONParser.parse(body),
              let text = document["m.server"]?.stringValue else { return nil }
        return ServerName(text)
    }

    /// How long a valid answer is cached: `Cache-Control: max-age` if given (`no-store`/`no-cache`
    /// count as 0; digits beyond 64 bits as the largest value, as RFC 9111 §1.2.2 says), else 24 h;
    /// kept between 5 minutes and 48 hours.
    static func lifetime(cacheControl: String?) -> Duration {
        guard let cacheControl else { return defaultLifetime }
        var seconds: Int64?
        for directive in cacheControl.lowercased().split(separator: ",") {
            let parts = directive.trimmingBlanks().split(separator: "=", maxSplits: 1)
            switch parts.first {
            case "no-store", "no-cache": seconds = 0
            case "max-age" where parts.count == 2:
                if seconds == nil { seconds = deltaSeconds(parts[1].trimmingBlanks().trimmingQuotes()) }
            default: break
            }
        }
        guard let seconds else { return defaultLifetime }
        return min(max(.seconds(seconds), minimumLifetime), maximumLifetime)
    }

    /// A `max-age` value: an `Int64`, or `Int64.max` for more digits than 64 bits hold; `nil` if not a number.
    private static func deltaSeconds(_ text: String) -> Int64? {
        if let value = Int64(text) { return value }
        return !text.isEmpty && text.utf8.allSatisfy { $0 &- UInt8(ascii: "0") < 10 } ? .max : nil
    }

    /// How long a failed look-up is remembered: 2 minutes, doubling with each consecutive failure, at most 1 h.
    static func failureLifetime(consecutiveFailures: Int) -> Duration {
        let doublings = min(max(consecutiveFailures - 1, 0), 10)
        return min(firstFailureLifetime * (1 << doublings), maximumFailureLifetime)
    }
}

extension String {
    /// The text without one pair of surrounding double quotes.
    fileprivate func trimmingQuotes() -> String {
        count >= 2 && hasPrefix("\"") && hasSuffix("\"") ? String(dropFirst().dropLast()) : self
    }
}
