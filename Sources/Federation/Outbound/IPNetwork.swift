/// An address range in CIDR notation (`10.0.0.0/8`, `fd00::/8`, or one address: `192.0.2.7`).
public struct IPNetwork: Sendable, Hashable, CustomStringConvertible {
    public let address: IPAddress
    public let prefixLength: Int

    /// The range of `address` with `prefixLength` leading bits significant; `nil` when the prefix is
    /// longer than the address.
    public init?(address: IPAddress, prefixLength: Int) {
        guard (0...address.bytes.count * 8).contains(prefixLength) else { return nil }
        self.address = address
        self.prefixLength = prefixLength
    }

    /// Parses `address[/prefix]`; a bare address is a single-address range.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = IPAddress(String(parts[0])) else { return nil }
        if parts.count == 1 {
            self.init(address: address, prefixLength: address.bytes.count * 8)
            return
        }
        guard (1...3).contains(parts[1].count), parts[1].allSatisfy(\.isASCIIDigit), let length = Int(parts[1]) else { return nil }
        self.init(address: address, prefixLength: length)
    }

    /// Whether `candidate` lies in the range (an IPv4-mapped IPv6 address counts as its IPv4 address).
    public func contains(_ candidate: IPAddress) -> Bool {
        Self.matches(candidate.unmapped.bytes, address.unmapped.bytes,
                     prefixLength: prefixLength - (address.bytes.count - address.unmapped.bytes.count) * 8)
    }

    /// Whether the first `prefixLength` bits of `bytes` and `network` agree (same family only).
    static func matches(_ bytes: [UInt8], _ network: [UInt8], prefixLength: Int) -> Bool {
        guard bytes.count == network.count, prefixLength >= 0 else { return false }
        var remaining = prefixLength
        for index in bytes.indices where remaining > 0 {
            let bits = min(8, remaining)
            let mask = UInt8(truncatingIfNeeded: 0xff << (8 - bits))
            if bytes[index] & mask != network[index] & mask { return false }
            remaining -= bits
        }
        return true
    }

    public var description: String { "\(address)/\(prefixLength)" }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}
