/// Where outbound federation may connect: any public address, and restricted addresses
/// (``AddressClassifier``) only inside the networks the operator allowed
/// (`LEAVE_WORKER_FEDERATION_ALLOWED_NETWORKS`). Servers named in the federation overrides are
/// reached wherever the operator pointed them and are not subject to this policy.
public struct OutboundAddressPolicy: Sendable, Equatable {
    /// Restricted networks the operator allows anyway.
    public let allowedNetworks: [IPNetwork]

    /// Public addresses only.
    public static let publicOnly = OutboundAddressPolicy(allowedNetworks: [])

    public init(allowedNetworks: [IPNetwork]) {
        self.allowedNetworks = allowedNetworks
    }

    /// Parses a comma-separated CIDR list (blanks ignored; empty = none); a failure names the bad entry.
    public static func parse(_ text: String) -> Result<OutboundAddressPolicy, OutboundPolicyError> {
        var networks: [IPNetwork] = []
        for entry in text.split(separator: ",") {
            let trimmed = entry.trimmingBlanks()
            if trimmed.isEmpty { continue }
            guard let network = IPNetwork(trimmed) else { return .failure(OutboundPolicyError(entry: trimmed)) }
            networks.append(network)
        }
        return .success(OutboundAddressPolicy(allowedNetworks: networks))
    }

    /// Why `address` may not be connected to (the restricted range it lies in), or `nil` if it may.
    public func refusal(for address: IPAddress) -> String? {
        guard let range = AddressClassifier.restrictedRange(of: address) else { return nil }
        return allowedNetworks.contains { $0.contains(address) } ? nil : range
    }
}

/// An entry of `LEAVE_WORKER_FEDERATION_ALLOWED_NETWORKS` that is not `address[/prefix]`.
public struct OutboundPolicyError: Error, Equatable, CustomStringConvertible {
    public let entry: String

    public var description: String { "\"\(entry)\" is not an IP network (address or address/prefix)" }
}
