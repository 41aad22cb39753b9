@testable import Federation
import Testing

/// The address classifier, CIDR parsing and the outbound policy: every restricted range at its
/// edges, the IPv6 forms that embed IPv4, and public addresses next to each range.
@Suite struct AddressClassifierTests {
    /// Each restricted range: its first and last address, and the public neighbours just outside.
    static let restricted: [String] = [
        "0.0.0.0", "0.255.255.255", "10.0.0.0", "10.0.0.1", "10.255.255.255",
        "100.64.0.0", "100.127.255.255", "127.0.0.1", "127.0.0.0", "127.255.255.255",
        "169.254.0.0", "169.254.169.254", "169.254.255.255", "172.16.0.0", "172.31.255.255",
        "192.0.0.0", "192.0.0.255", "192.168.0.0", "192.168.255.255", "198.18.0.0", "198.19.255.255",
        "224.0.0.1", "239.255.255.255", "240.0.0.0", "255.255.255.255",
        "::", "::1", "::ffff:127.0.0.1", "::ffff:10.1.2.3", "::ffff:169.254.169.254", "::ffff:0.0.0.0",
        "::127.0.0.1", "::0.0.0.2", "64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe", "64:ff9b:1::1",
        "2002:7f00:1::", "2002:0a00:0001::1", "100::1",
        "fc00::", "fd12:3456::1", "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
        "fe80::", "fe80::1", "febf:ffff::1", "fec0::1", "ff02::1", "ff00::",
        "[::1]", "[fe80::1]",
        // Synapse's default block list besides: the documentation ranges (TEST-NET-1, -2, -3 and
        // 2001:db8::/32), the 6to4 relay anycast, and IPv4-translated ::ffff:0:a.b.c.d (SIIT).
        "192.0.2.0", "192.0.2.255", "198.51.100.0", "198.51.100.255", "203.0.113.0", "203.0.113.7", "203.0.113.255",
        "192.88.99.0", "192.88.99.255", "2001:db8::", "2001:db8::1", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff",
        "[2001:db8::7]", "::ffff:0:7f00:1", "::ffff:0:a00:1",
    ]

    static let permitted: [String] = [
        "1.1.1.1", "8.8.8.8", "9.255.255.255", "11.0.0.0", "100.63.255.255", "100.128.0.0",
        "126.255.255.255", "128.0.0.0", "169.253.255.255", "169.255.0.0", "172.15.255.255", "172.32.0.0",
        "192.0.1.0", "192.167.255.255", "192.169.0.0", "198.17.255.255", "198.20.0.0", "192.0.1.255", "192.0.3.0",
        "198.51.99.255", "198.51.101.0", "203.0.112.255", "203.0.114.0", "192.88.98.255", "192.88.100.0",
        "223.255.255.255",
        "2001:db7:ffff::1", "2001:db9::", "2606:4700:4700::1111", "2a00:1450:4001::200e", "::ffff:8.8.8.8",
        "::ffff:0:808:808", "64:ff9b::808:808", "2002:0808:0808::1", "fbff:ffff::1", "fe00::1", "fe7f::1",
        "[2606:4700:4700::1001]",
    ]

    @Test(arguments: restricted) func restrictedAddressesAreRestricted(_ text: String) throws {
        let address = try #require(IPAddress(text))
        #expect(AddressClassifier.restrictedRange(of: address) != nil)
        #expect(OutboundAddressPolicy.publicOnly.refusal(for: address) != nil)
    }

    @Test(arguments: permitted) func publicAddressesArePermitted(_ text: String) throws {
        let address = try #require(IPAddress(text))
        #expect(AddressClassifier.restrictedRange(of: address) == nil, "\(text)")
        #expect(OutboundAddressPolicy.publicOnly.refusal(for: address) == nil)
    }

    @Test func everyIPv4FirstOctetIsClassifiedLikeItsRange() throws {
        let restrictedOctets = Set([0, 10, 127]).union(224...255)
        for octet in 0...255 {
            let address = try #require(IPAddress("\(octet).200.1.1"))
            #expect((AddressClassifier.restrictedRange(of: address) != nil) == restrictedOctets.contains(octet), "\(octet)")
            // The IPv4-mapped form is classified exactly like the address itself.
            let mapped = try #require(IPAddress("::ffff:\(octet).200.1.1"))
            #expect((AddressClassifier.restrictedRange(of: mapped) != nil) == restrictedOctets.contains(octet))
        }
    }

    @Test func hostNamesAndMalformedTextAreNotAddresses() {
        for text in ["example.org", "127.1", "0x7f.0.0.1", "1.2.3.4.5", "256.0.0.1", "fe80::1%eth0", "", "[", "::g", "1.2.3.4/8"] {
            #expect(IPAddress(text) == nil, "\(text)")
        }
        #expect(IPAddress("::ffff:7f00:1")?.unmapped == IPAddress("127.0.0.1"))
        #expect(IPAddress("[::1]")?.description == "::1")
    }

    @Test func networksParseAndContain() throws {
        let loopback = try #require(IPNetwork("127.0.0.0/8"))
        #expect(loopback.contains(try #require(IPAddress("127.9.9.9"))))
        #expect(loopback.contains(try #require(IPAddress("::ffff:127.0.0.2"))))
        #expect(!loopback.contains(try #require(IPAddress("128.0.0.1"))))
        #expect(!loopback.contains(try #require(IPAddress("::1"))))
        let single = try #require(IPNetwork("10.1.2.3"))
        let inside = try #require(IPAddress("10.1.2.3")), beside = try #require(IPAddress("10.1.2.4"))
        #expect(single.prefixLength == 32 && single.contains(inside))
        #expect(!single.contains(beside))
        let v6 = try #require(IPNetwork("fd00::/8"))
        let unique = try #require(IPAddress("fd12::1")), other = try #require(IPAddress("fc00::1"))
        #expect(v6.contains(unique) && !v6.contains(other))
        #expect(IPNetwork("0.0.0.0/0")?.contains(try #require(IPAddress("8.8.8.8"))) == true)
        for bad in ["10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/+8", "host/8", "10.0.0.0/8/8", "/8"] {
            #expect(IPNetwork(bad) == nil, "\(bad)")
        }
    }

    @Test func theAllowListAdmitsOnlyItsNetworks() throws {
        let policy = try OutboundAddressPolicy.parse(" 127.0.0.2/32 , fd00::/8").get()
        #expect(policy.refusal(for: try #require(IPAddress("127.0.0.2"))) == nil)
        #expect(policy.refusal(for: try #require(IPAddress("127.0.0.1"))) != nil)
        #expect(policy.refusal(for: try #require(IPAddress("fd00::5"))) == nil)
        #expect(policy.refusal(for: try #require(IPAddress("169.254.169.254"))) != nil)
        #expect(try OutboundAddressPolicy.parse("").get() == .publicOnly)
        #expect(throws: OutboundPolicyError(entry: "10.0.0.0/99")) { try OutboundAddressPolicy.parse("10.0.0.0/8,10.0.0.0/99").get() }
    }
}
