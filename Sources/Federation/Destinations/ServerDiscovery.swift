import MatrixCore

/// The decisions of the spec's server discovery that need no network: which names are reached
/// directly, and what a `.well-known` answer or an SRV record turns into.
enum ServerDiscovery {
    /// The federation port used when nothing else gives one.
    static let defaultPort = 8448

    /// Steps 1–2 (and 3.1–3.2 for a delegated name): an IP literal or a name with an explicit port is
    /// reached directly, on the given port or 8448; `Host` is the name as written.
    static func directDestination(for name: ServerName) -> FederationDestination? {
        guard name.isIPLiteral || name.port != nil else { return nil }
        return FederationDestination(
            scheme: .https, host: name.host, port: name.port ?? defaultPort, hostHeader: name.text)
    }

    /// Steps 3.3–3.5 and 4–6 for a host name without a port: the first usable SRV record, else port 8448.
    /// TLS is checked for `hostname`; the connection goes to the SRV target.
    static func destination(hostname: String, srvRecords: [SRVRecord]) -> FederationDestination {
        guard let record = SRVRecord.preferred(srvRecords) else {
            return FederationDestination(scheme: .https, host: hostname, port: defaultPort, hostHeader: hostname)
        }
        let connectHost = record.target == hostname ? nil : record.target
        return FederationDestination(
            scheme: .https, host: hostname, port: record.port, hostHeader: hostname, connectHost: connectHost)
    }

    /// The SRV names to try for a host name, newest first (`_matrix._tcp` is deprecated).
    static func srvNames(for hostname: String) -> [String] {
        ["_matrix-fed._tcp.\(hostname)", "_matrix._tcp.\(hostname)"]
    }
}
