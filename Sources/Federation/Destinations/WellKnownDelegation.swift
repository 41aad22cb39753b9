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
    /// The path of the delegation document.
    static let path = "/.well-known/matrix/server"
    /// How many redirects of a `.well-known` request are followed.
    static let maximumRedirects = 3

    /// A redirect that is not followed: to another scheme than `https`, unparseable, or one too many.
    struct RedirectRefused: Error, CustomStringConvertible {
        let status: Int?

        var description: String {
            status.map { "redirect (HTTP \($0)) to a location that is not an https URL" } ?? "too many redirects"
        }
    }

    /// An `https` URL of a `.well-known` request: the first one, or where a redirect leads.
    struct URL: Equatable {
        /// The host as in a server name (IPv6 in brackets), and the port if given.
        let authority: ServerName
        /// The path (and query), starting with `/`.
        let path: String

        var host: String { authority.host }
        var text: String { "https://\(authority.text)\(path)" }

        init(authority: ServerName, path: String) {
            self.authority = authority
            self.path = path
        }

        /// Where a redirect with `location` leads: an absolute `https://` URL, a scheme-relative
        /// `//host/path` (stays `https`) or an absolute path on the same host. `nil` for anything
        /// else — `http://` (a downgrade), other schemes, relative paths, user info, no location.
        func redirect(location: String?) -> URL? {
            guard let location, !location.isEmpty, location.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else { return nil }
            let rest: Substring
            if location.hasPrefix("https://") {
                rest = location.dropFirst("https://".count)
            } else if location.hasPrefix("//") {
                rest = location.dropFirst(2)
            } else if location.hasPrefix("/") {
                return URL(authority: authority, path: location)
            } else {
                return nil
            }
            let slash = rest.firstIndex(of: "/") ?? rest.endIndex
            let authorityText = rest[..<slash]
            guard !authorityText.contains("@"), !authorityText.contains("?"), !authorityText.contains("#"),
                  let target = ServerName(String(authorityText)) else { return nil }
            let path = rest[slash...]
            return URL(authority: target, path: path.isEmpty ? "/" : String(path))
        }
    }

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
