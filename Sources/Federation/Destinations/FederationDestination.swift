/// Where and how to reach one server: the URL to connect to, the `Host` header to send and,
/// for SRV results, the host actually connected to while TLS is checked for ``host``.
public struct FederationDestination: Sendable, Equatable, CustomStringConvertible {
    /// `http` (overrides only) or `https`.
    public enum Scheme: String, Sendable {
        case http, https

        /// 80 or 443.
        public var defaultPort: Int { self == .http ? 80 : 443 }
    }

    public let scheme: Scheme
    /// Host name or IP literal put in the URL (IPv6 in brackets); TLS certificates are checked for it.
    public let host: String
    public let port: Int
    /// A path put before every request target (overrides only; empty otherwise).
    public let pathPrefix: String
    /// The `Host` header: the server name or its delegated name, per server discovery.
    public let hostHeader: String
    /// The host to connect to instead of ``host`` (an SRV target), or `nil`.
    public let connectHost: String?

    public init(
        scheme: Scheme, host: String, port: Int, pathPrefix: String = "",
        hostHeader: String, connectHost: String? = nil
    ) {
        self.scheme = scheme
        self.host = host
        self.port = port
        self.pathPrefix = pathPrefix
        self.hostHeader = hostHeader
        self.connectHost = connectHost
    }

    /// The URL for a request target (`/_matrix/...?...`, sent exactly as given).
    public func url(target: String) -> String {
        "\(scheme.rawValue)://\(host):\(port)\(pathPrefix)\(target)"
    }

    public var description: String {
        let via = connectHost.map { " via \($0)" } ?? ""
        return "\(scheme.rawValue)://\(host):\(port)\(pathPrefix) (Host: \(hostHeader))\(via)"
    }
}
