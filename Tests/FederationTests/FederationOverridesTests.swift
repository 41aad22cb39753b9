import Federation
import Testing

@Suite struct FederationOverridesTests {
    @Test func parsesServerNamesAndBaseURLs() throws {
        let overrides = try FederationOverrides.parse(
            " remote.test=http://127.0.0.1:18448 , other.test:8448=https://[::1]:9000/prefix/,ip.test=https://example.org")
        #expect(overrides.destinations.count == 3)
        let remote = try #require(overrides.destinations["remote.test"])
        #expect(remote.url(target: "/_matrix/key/v2/server") == "http://127.0.0.1:18448/_matrix/key/v2/server")
        #expect(remote.hostHeader == "remote.test")
        let other = try #require(overrides.destinations["other.test:8448"])
        #expect(other.url(target: "/_matrix/x?a=b") == "https://[::1]:9000/prefix/_matrix/x?a=b")
        #expect(other.hostHeader == "other.test:8448")
        #expect(overrides.destinations["ip.test"]?.url(target: "/x") == "https://example.org:443/x")
    }

    @Test func emptyMeansNoOverrides() throws {
        #expect(try FederationOverrides.parse("").destinations.isEmpty)
        #expect(try FederationOverrides.parse("  ").destinations.isEmpty)
    }

    @Test func malformedSettingsGiveClearErrors() {
        let cases: [(String, FederationOverridesError)] = [
            ("remote.test", .malformedEntry("remote.test")),
            ("remote.test=", .malformedEntry("remote.test=")),
            ("=http://127.0.0.1:1", .malformedEntry("=http://127.0.0.1:1")),
            ("a.test=http://127.0.0.1:1,,b.test=http://127.0.0.1:2", .malformedEntry("")),
            ("bad_name!=http://127.0.0.1:1", .invalidServerName("bad_name!")),
            ("a.test=http://127.0.0.1:1,a.test=http://127.0.0.1:2", .duplicateServer("a.test")),
        ]
        for (text, expected) in cases {
            #expect(throws: expected, "\(text)") { try FederationOverrides.parse(text) }
        }
        for url in ["ftp://127.0.0.1", "127.0.0.1:8448", "http://", "http://host:0", "http://host:99999",
                    "http://user@host", "http://host/?q", "http://host/#f", "http://ho st"] {
            #expect("\(url)") {
                try FederationOverrides.parse("a.test=\(url)")
            } throws: { error in
                guard case .invalidBaseURL(server: "a.test", url: url, _) = error as? FederationOverridesError else { return false }
                return "\(error)".contains(url)
            }
        }
    }
}
