/// Which addresses outbound federation must not reach on its own: loopback, private, shared
/// (CGNAT), link-local (with the cloud metadata address 169.254.169.254), unspecified, multicast,
/// broadcast, documentation and other reserved ranges — Synapse's default block list and more — in
/// IPv4, IPv6, and the IPv6 forms that embed an IPv4 address (IPv4-mapped, IPv4-translated
/// `::ffff:0:0/96`, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`), which count as that IPv4 address.
public enum AddressClassifier {
    /// The name of the restricted range `address` lies in, or `nil` for a public address.
    public static func restrictedRange(of address: IPAddress) -> String? {
        let bytes = address.bytes
        return bytes.count == 4 ? ipv4Range(of: bytes) : ipv6Range(of: bytes)
    }

    private static let ipv4Ranges: [(network: [UInt8], length: Int, name: String)] = [
        ([0, 0, 0, 0], 8, "unspecified (0.0.0.0/8)"),
        ([10, 0, 0, 0], 8, "private (10.0.0.0/8)"),
        ([100, 64, 0, 0], 10, "shared address space (100.64.0.0/10)"),
        ([127, 0, 0, 0], 8, "loopback (127.0.0.0/8)"),
        ([169, 254, 0, 0], 16, "link-local (169.254.0.0/16)"),
        ([172, 16, 0, 0], 12, "private (172.16.0.0/12)"),
        ([192, 0, 0, 0], 24, "IETF protocol assignments (192.0.0.0/24)"),
        ([192, 0, 2, 0], 24, "documentation (192.0.2.0/24)"),
        ([192, 88, 99, 0], 24, "6to4 relay anycast (192.88.99.0/24)"),
        ([192, 168, 0, 0], 16, "private (192.168.0.0/16)"),
        ([198, 18, 0, 0], 15, "benchmarking (198.18.0.0/15)"),
        ([198, 51, 100, 0], 24, "documentation (198.51.100.0/24)"),
        ([203, 0, 113, 0], 24, "documentation (203.0.113.0/24)"),
        ([224, 0, 0, 0], 4, "multicast (224.0.0.0/4)"),
        ([240, 0, 0, 0], 4, "reserved or broadcast (240.0.0.0/4)"),
    ]

    private static let ipv6Ranges: [(network: [UInt8], length: Int, name: String)] = [
        ([0x01, 0x00] + Array(repeating: 0, count: 14), 64, "discard-only (100::/64)"),
        ([0x00, 0x64, 0xff, 0x9b, 0x00, 0x01] + Array(repeating: 0, count: 10), 48, "local-use NAT64 (64:ff9b:1::/48)"),
        ([0x20, 0x01, 0x0d, 0xb8] + Array(repeating: 0, count: 12), 32, "documentation (2001:db8::/32)"),
        ([0xfc] + Array(repeating: 0, count: 15), 7, "unique local (fc00::/7)"),
        ([0xfe, 0x80] + Array(repeating: 0, count: 14), 10, "link-local (fe80::/10)"),
        ([0xfe, 0xc0] + Array(repeating: 0, count: 14), 10, "site-local (fec0::/10)"),
        ([0xff] + Array(repeating: 0, count: 15), 8, "multicast (ff00::/8)"),
    ]

    private static func ipv4Range(of bytes: [UInt8]) -> String? {
        ipv4Ranges.first { IPNetwork.matches(bytes, $0.network, prefixLength: $0.length) }?.name
    }

    private static func ipv6Range(of bytes: [UInt8]) -> String? {
        let zeros = Array(repeating: UInt8(0), count: 16)
        if bytes == zeros { return "unspecified (::)" }
        if bytes == Array(zeros.dropLast()) + [1] { return "loopback (::1)" }
        if bytes[0..<10].allSatisfy({ $0 == 0 }) {
            if bytes[10] == 0xff, bytes[11] == 0xff { return ipv4Range(of: Array(bytes[12..<16])).map { "IPv4-mapped \($0)" } }
            // The rest of ::/80 (IPv4-compatible ::a.b.c.d and unassigned forms) is deprecated or reserved.
            return "reserved (::/80)"
        }
        if bytes[0..<12] == [0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0] {
            return ipv4Range(of: Array(bytes[12..<16])).map { "IPv4-translated \($0)" }
        }
        if bytes[0..<12] == [0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0] {
            return ipv4Range(of: Array(bytes[12..<16])).map { "NAT64 \($0)" }
        }
        if bytes[0] == 0x20, bytes[1] == 0x02 {
            return ipv4Range(of: Array(bytes[2..<6])).map { "6to4 \($0)" }
        }
        return ipv6Ranges.first { IPNetwork.matches(bytes, $0.network, prefixLength: $0.length) }?.name
    }
}
