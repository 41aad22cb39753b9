@testable import Federation
import CResolv
import MatrixCore
import Synchronization
import Testing

@Suite struct ServerDiscoveryTests {
    @Test func ipLiteralsAndExplicitPortsAreReachedDirectly() throws {
        let cases: [(String, String, String)] = [
            ("1.2.3.4", "https://1.2.3.4:8448", "1.2.3.4"),
            ("1.2.3.4:1234", "https://1.2.3.4:1234", "1.2.3.4:1234"),
            ("[1234:5678::abcd]", "https://[1234:5678::abcd]:8448", "[1234:5678::abcd]"),
            ("[1234:5678::abcd]:5678", "https://[1234:5678::abcd]:5678", "[1234:5678::abcd]:5678"),
            ("matrix.org:8888", "https://matrix.org:8888", "matrix.org:8888"),
        ]
        for (name, url, host) in cases {
            let serverName = try #require(ServerName(name))
            let destination = try #require(ServerDiscovery.directDestination(for: serverName))
            #expect(destination.url(target: "") == url)
            #expect(destination.hostHeader == host)
            #expect(destination.connectHost == nil)
        }
        #expect(ServerDiscovery.directDestination(for: try #require(ServerName("matrix.org"))) == nil)
    }

    @Test func srvRecordsPickLowestPriorityThenHighestWeight() {
        let records = [
            SRVRecord(priority: 20, weight: 100, port: 1, target: "backup.example.org"),
            SRVRecord(priority: 10, weight: 5, port: 2, target: "light.example.org"),
            SRVRecord(priority: 10, weight: 50, port: 3, target: "heavy.example.org"),
        ]
        let destination = ServerDiscovery.destination(hostname: "example.org", srvRecords: records)
        #expect(destination.url(target: "/x") == "https://example.org:3/x")
        #expect(destination.connectHost == "heavy.example.org")
        #expect(destination.hostHeader == "example.org")
        let fallback = ServerDiscovery.destination(hostname: "example.org", srvRecords: [])
        #expect(fallback == FederationDestination(scheme: .https, host: "example.org", port: 8448, hostHeader: "example.org"))
        #expect(ServerDiscovery.srvNames(for: "example.org") == ["_matrix-fed._tcp.example.org", "_matrix._tcp.example.org"])
    }

    /// A DNS response for `_matrix-fed._tcp.example.org SRV` with two answers, the second target
    /// compressed (a pointer into the question), plus a "." target that means no service.
    static func srvResponse() -> [UInt8] {
        func name(_ labels: [String]) -> [UInt8] {
            labels.flatMap { [UInt8($0.utf8.count)] + Array($0.utf8) } + [0]
        }
        func srv(priority: UInt16, weight: UInt16, port: UInt16, target: [UInt8]) -> [UInt8] {
            let rdata = [priority, weight, port].flatMap { [UInt8($0 >> 8), UInt8($0 & 0xff)] } + target
            return [0xC0, 12, 0, 33, 0, 1, 0, 0, 0x0E, 0x10, UInt8(rdata.count >> 8), UInt8(rdata.count & 0xff)] + rdata
        }
        let header: [UInt8] = [0x12, 0x34, 0x81, 0x80, 0, 1, 0, 3, 0, 0, 0, 0]
        let question = name(["_matrix-fed", "_tcp", "example", "org"]) + [0, 33, 0, 1]
        // Offset of "example" in the question: 12 + 1 + 11 + 1 + 4 = 29.
        return header + question
            + srv(priority: 10, weight: 0, port: 8443, target: name(["fed", "example", "org"]))
            + srv(priority: 5, weight: 1, port: 443, target: [3] + Array("srv".utf8) + [0xC0, 29])
            + srv(priority: 1, weight: 0, port: 0, target: [0])
    }

    @Test func srvResponsesAreDecoded() {
        let records = SRVRecord.parse(response: Self.srvResponse())
        #expect(records == [
            SRVRecord(priority: 10, weight: 0, port: 8443, target: "fed.example.org"),
            SRVRecord(priority: 5, weight: 1, port: 443, target: "srv.example.org"),
        ])
    }

    @Test func truncatedOrGarbageSRVResponsesGiveNoRecords() {
        let response = Self.srvResponse()
        for length in stride(from: 0, to: response.count - 1, by: 7) {
            let records = SRVRecord.parse(response: Array(response.prefix(length)))
            #expect(records.count <= 2)
        }
        #expect(SRVRecord.parse(response: Array(repeating: 0xFF, count: 64)).isEmpty)
        #expect(SRVRecord.parse(response: []).isEmpty)
    }

    /// `res_query`'s outcomes: only "no such name" and "no data" mean no SRV records; a server
    /// failure or an answer too large for the buffer says nothing about the name.
    @Test func srvLookUpFailuresAreNotNoRecords() {
        let response = Self.srvResponse()
        #expect(SRVResolver.answer(length: -1, resolverError: HOST_NOT_FOUND, response: []) == .none)
        #expect(SRVResolver.answer(length: -1, resolverError: NO_DATA, response: []) == .none)
        for error in [TRY_AGAIN, NO_RECOVERY] {
            guard case .failed = SRVResolver.answer(length: -1, resolverError: error, response: []) else {
                Issue.record("h_errno \(error) taken for an answer")
                continue
            }
        }
        guard case .failed = SRVResolver.answer(length: response.count + 1, resolverError: 0, response: response) else {
            Issue.record("an answer longer than the buffer taken for an answer")
            return
        }
        #expect(SRVResolver.answer(length: response.count, resolverError: 0, response: response)
            == .records(SRVRecord.parse(response: response)))
        #expect(SRVResolver.answer(length: 12, resolverError: 0, response: response) == .none)
    }

    /// Discovery with no `.well-known` (its host has no address) and SRV answers from `answers`:
    /// a name's answers in turn, then none; `lookedUp` is told each SRV name looked up.
    private static func discovering(
        _ answers: [String: [SRVResolver.Answer]], lookedUp: @escaping @Sendable (String) -> Void = { _ in }
    ) -> FederationDestinations {
        let remaining = Mutex(answers)
        let srvResolver = SRVResolver { name in
            lookedUp(name)
            return remaining.withLock { answers -> SRVResolver.Answer in
                guard let answer = answers[name]?.first else { return .none }
                answers[name]?.removeFirst()
                return answer
            }
        }
        return FederationDestinations(
            overrides: FederationOverrides(destinations: [:]), srvResolver: srvResolver,
            connector: OutboundConnector(resolver: HostResolver { _ in [] }))
    }

    /// A failed SRV look-up (a timeout, SERVFAIL, no look-up thread free) is not "no records":
    /// discovery fails without remembering port 8448, and the next discovery finds the SRV target.
    /// (Until 2026-12-06 the failure sent the server's traffic to port 8448 for up to an hour.)
    @Test func aFailedSRVLookUpIsNotRememberedAsNoRecords() async throws {
        let destinations = Self.discovering(["_matrix-fed._tcp.srv.test": [
            .failed(reason: "SERVFAIL"),
            .records([SRVRecord(priority: 0, weight: 0, port: 443, target: "fed.test")]),
        ]])
        await #expect(throws: FederationRequestError.unreachable(
            server: "srv.test", reason: "SRV look-up of _matrix-fed._tcp.srv.test failed: SERVFAIL")
        ) { try await destinations.destination(for: "srv.test") }
        let destination = try await destinations.destination(for: "srv.test")
        #expect(destination.connectHost == "fed.test")
        #expect(destination.port == 443)
        #expect(destination.hostHeader == "srv.test")
        try await destinations.shutdown()
    }

    /// No SRV records (NXDOMAIN, no data) moves on to `_matrix._tcp`, then port 8448, and that
    /// answer is remembered: the next discovery looks nothing up.
    @Test func noSRVRecordsMeansPort8448Remembered() async throws {
        let lookUps = Mutex<[String]>([])
        let destinations = Self.discovering([:]) { name in lookUps.withLock { $0.append(name) } }
        for _ in 0..<2 {
            let destination = try await destinations.destination(for: "srv.test")
            #expect(destination == FederationDestination(scheme: .https, host: "srv.test", port: 8448, hostHeader: "srv.test"))
        }
        #expect(lookUps.withLock { $0 } == ["_matrix-fed._tcp.srv.test", "_matrix._tcp.srv.test"])
        try await destinations.shutdown()
    }

    @Test func wellKnownAnswersAndTheirLifetimes() {
        #expect(WellKnownDelegation.delegatedName(status: 200, body: Array(#"{"m.server":"fed.example.org:443"}"#.utf8))
            == ServerName("fed.example.org:443"))
        #expect(WellKnownDelegation.delegatedName(status: 404, body: Array(#"{"m.server":"a.org"}"#.utf8)) == nil)
        #expect(WellKnownDelegation.delegatedName(status: 200, body: Array(#"{"m.server":"bad name"}"#.utf8)) == nil)
        #expect(WellKnownDelegation.delegatedName(status: 200, body: Array(#"{"m.server":1}"#.utf8)) == nil)
        #expect(WellKnownDelegation.delegatedName(status: 200, body: Array("<html>".utf8)) == nil)

        #expect(WellKnownDelegation.lifetime(cacheControl: nil) == .seconds(24 * 3600))
        #expect(WellKnownDelegation.lifetime(cacheControl: "public, max-age=7200") == .seconds(7200))
        #expect(WellKnownDelegation.lifetime(cacheControl: "max-age=99999999") == .seconds(48 * 3600))
        #expect(WellKnownDelegation.lifetime(cacheControl: "no-store") == .seconds(300))
        #expect(WellKnownDelegation.lifetime(cacheControl: "max-age=oops") == .seconds(24 * 3600))
        // The limits of max-age, a number from the network: clamped, never an overflow.
        let limits: [(String, Duration)] = [
            ("0", .seconds(300)), ("-1", .seconds(300)), ("9007199254740991", .seconds(48 * 3600)),
            ("9007199254740992", .seconds(48 * 3600)), ("9223372036854775807", .seconds(48 * 3600)),
            ("-9223372036854775808", .seconds(300)), ("99999999999999999999", .seconds(48 * 3600)),
            ("-99999999999999999999", .seconds(24 * 3600)),
        ]
        for (maxAge, expected) in limits {
            #expect(WellKnownDelegation.lifetime(cacheControl: "max-age=\(maxAge)") == expected, "max-age=\(maxAge)")
        }
        #expect(WellKnownDelegation.failureLifetime(consecutiveFailures: 1) == .seconds(120))
        #expect(WellKnownDelegation.failureLifetime(consecutiveFailures: 2) == .seconds(240))
        #expect(WellKnownDelegation.failureLifetime(consecutiveFailures: 50) == .seconds(3600))
    }

    @Test func overriddenServersSkipDiscoveryAndInvalidNamesAreRefused() async throws {
        let destinations = FederationDestinations(overrides: try FederationOverrides.parse("remote.test=http://127.0.0.1:5"))
        let override = try await destinations.destination(for: "remote.test")
        #expect(override.url(target: "/x") == "http://127.0.0.1:5/x")
        let direct = try await destinations.destination(for: "8.8.4.4:1234")
        #expect(direct.url(target: "/x") == "https://8.8.4.4:1234/x")
        await #expect(throws: FederationRequestError.invalidServerName("not a name")) {
            try await destinations.destination(for: "not a name")
        }
        try await destinations.shutdown()
    }
}
