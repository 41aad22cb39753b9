import MatrixCore

/// Why `LEAVE_WORKER_FEDERATION_OVERRIDES` could not be read.
public enum FederationOverridesError: Error, Equatable, CustomStringConvertible {
    /// An entry is not `server_name=base_url`.
    case malformedEntry(String)
    /// The left-hand side is not a valid server name.
    case invalidServerName(String)
    /// The base URL is not `http(s)://host[:port][/path]` (no user info, query or fragment).
    case invalidBaseURL(server: String, url: String, reason: String)
    /// The same server name appears twice.
    case duplicateServer(String)

    public var description: String {
        switch self {
        case .malformedEntry(let entry):
            return "federation override \"\(entry)\" is not of the form server_name=base_url"
        case .invalidServerName(let name):
            return "federation override: \"\(name)\" is not a valid server name"
        case .invalidBaseURL(let server, let url, let reason):
            return "federation override for \(server): \"\(url)\" is not a usable base URL (\(reason))"
        case .duplicateServer(let name):
            return "federation override: \(name) is listed more than once"
        }
    }
}

/// Fixed addresses for some servers, from `LEAVE_WORKER_FEDERATION_OVERRIDES`
/// (`name=base_url,name=base_url,…`): requests to those servers go to the base URL instead of
/// through server discovery. For private federations and tests.
public struct FederationOverrides: Sendable, Equatable {
    /// The base URL of each overridden server, by server name.
    public let destinations: [String: FederationDestination]

    /// No overrides.
    public static let none = FederationOverrides(destinations: [:])

    public init(destinations: [String: FederationDestination]) {
        self.destinations = destinations
    }

    /// Parses the comma-separated `server_name=base_url` list; blanks around entries are ignored
    /// and an empty text means no overrides.
    public static func parse(_ text: String) throws(FederationOverridesError) -> FederationOverrides {
        var destinations: [String: FederationDestination] = [:]
        for rawEntry in text.split(separator: ",", omittingEmptySubsequences: false) {
            let entry = rawEntry.trimmingBlanks()
            if entry.isEmpty {
                if text.trimmingBlanks().isEmpty { continue }
                throw .malformedEntry(String(rawEntry))
            }
            guard let equals = entry.firstIndex(of: "=") else { throw .malformedEntry(entry) }
            let name = String(entry[..<equals]).trimmingBlanks()
            let url = String(entry[entry.index(after: equals)...]).trimmingBlanks()
            guard !name.isEmpty, !url.isEmpty else { throw .malformedEntry(entry) }
            guard ServerName(name) != nil else { throw .invalidServerName(name) }
            guard destinations[name] == nil else { throw .duplicateServer(name) }
            destinations[name] = try baseURLDestination(url, serverName: name)
        }
        return FederationOverrides(destinations: destinations)
    }

    /// Splits `scheme://authority[/path]` and checks each part.
    private static func baseURLDestination(
        _ url: String, serverName: String
    ) throws(FederationOverridesError) -> FederationDestination {
        func invalid(_ reason: String) -> FederationOverridesError {
            .invalidBaseURL(server: serverName, url: url, reason: reason)
        }
        let scheme: FederationDestination.Scheme
        let rest: Substring
        if url.hasPrefix("http://") {
            scheme = .http
            rest = url.dropFirst("http://".count)
        } else if url.hasPrefix("https://") {
            scheme = .https
            rest = url.dropFirst("https://".count)
        } else {
            throw invalid("the scheme must be http:// or https://")
        }
        if rest.contains(where: { $0 == "?" || $0 == "#" }) { throw invalid("no query or fragment allowed") }
        if rest.contains("@") { throw invalid("no user info allowed") }
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        let authorityText = String(rest[..<slash])
        guard let authority = ServerName(authorityText) else {
            throw invalid("\"\(authorityText)\" is not host[:port]")
        }
        var pathPrefix = String(rest[slash...])
        while pathPrefix.hasSuffix("/") { pathPrefix.removeLast() }
        return FederationDestination(
            scheme: scheme, host: authority.host,
            port: authority.port ?? scheme.defaultPort,
            pathPrefix: pathPrefix, hostHeader: serverName)
    }
}

extension StringProtocol {
    /// The text without leading and trailing spaces and tabs.
    func trimmingBlanks() -> String {
        let isBlank: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let first = firstIndex(where: { !isBlank($0) }),
              let last = lastIndex(where: { !isBlank($0) }) else { return "" }
        return String(self[first...last])
    }
}
