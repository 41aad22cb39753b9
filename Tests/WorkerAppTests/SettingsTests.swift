import Foundation
import Testing
@testable import WorkerApp

/// Every variable of ``Settings/Variable``: its default, a valid value, and an invalid one refused
/// with one line naming the variable and the value.
struct SettingsTests {
    struct Row: Sendable, CustomStringConvertible {
        let variable: Settings.Variable
        /// The default as `read` describes it; nil: reading succeeds, the value depends on the machine.
        let defaultValue: String?
        let valid: (input: String, expected: String)?
        let invalid: String?
        let read: @Sendable (Settings) throws -> String
        var description: String { variable.rawValue }
    }

    private static func ms(_ duration: Duration) -> String { String(Int(duration / .milliseconds(1))) }

    static let rows: [Row] = [
        Row(variable: .databaseURL, defaultValue: "postgresql:///leave_worker", valid: ("postgresql://db/x", "postgresql://db/x"),
            invalid: nil) { $0.databaseURL },
        Row(variable: .databaseDirectURL, defaultValue: "postgresql:///leave_worker", valid: ("postgresql://db/direct", "postgresql://db/direct"),
            invalid: nil) { $0.databaseDirectURL },
        Row(variable: .sqlDirectory, defaultValue: nil, valid: ("/opt/sql", "/opt/sql"), invalid: nil) { try SQLDirectory.resolve($0).path },
        Row(variable: .listen, defaultValue: "127.0.0.1:8448", valid: ("[::1]:9000", "::1:9000"), invalid: "nohost") {
            let address = try $0.listen
            return "\(address.host):\(address.port)"
        },
        Row(variable: .internalListen, defaultValue: "none", valid: ("0.0.0.0:9448", "0.0.0.0:9448"), invalid: ":9448") {
            try $0.internalListen.map { "\($0.host):\($0.port)" } ?? "none"
        },
        Row(variable: .shutdownDrainMilliseconds, defaultValue: "0", valid: ("2500", "2500"), invalid: "-5") { ms(try $0.shutdownDrain) },
        Row(variable: .poolSize, defaultValue: String(max(4, ProcessInfo.processInfo.activeProcessorCount * 2)), valid: ("7", "7"),
            invalid: "0") { String(try $0.poolSize) },
        Row(variable: .federationOverrides, defaultValue: "0", valid: ("a.test=http://127.0.0.1:5", "1"), invalid: "junk") {
            String(try $0.federationOverrides.destinations.count)
        },
        Row(variable: .logLevel, defaultValue: "info", valid: ("debug", "debug"), invalid: "loud") { try $0.logLevel },
        Row(variable: .logFormat, defaultValue: "text", valid: ("json", "json"), invalid: "xml") { try $0.logFormat.rawValue },
        Row(variable: .keyValiditySeconds, defaultValue: "86400", valid: ("60", "60"), invalid: "0") { String(try $0.keyValiditySeconds) },
        Row(variable: .keyFetchTimeoutSeconds, defaultValue: "5", valid: ("2", "2"), invalid: "x") { String(try $0.keyFetchTimeoutSeconds) },
        Row(variable: .oldSigningKeys, defaultValue: "0", valid: nil, invalid: "/nonexistent/old.keys") { String(try $0.oldSigningKeys.count) },
        Row(variable: .rateLimitPerSecond, defaultValue: "10000", valid: ("5", "5"), invalid: "-1") { String(try $0.rateLimitPerSecond) },
        Row(variable: .rateLimitBurst, defaultValue: "20000", valid: ("5", "5"), invalid: "1.5") { String(try $0.rateLimitBurst) },
        Row(variable: .rateLimitOrigins, defaultValue: "10000", valid: ("5", "5"), invalid: "0") { String(try $0.rateLimitOrigins) },
        Row(variable: .headerTimeoutMilliseconds, defaultValue: "10000", valid: ("500", "500"), invalid: "86400001") {
            ms(try $0.httpLimits.headerTimeout)
        },
        Row(variable: .idleTimeoutMilliseconds, defaultValue: "60000", valid: ("500", "500"), invalid: "0") { ms(try $0.httpLimits.idleTimeout) },
        Row(variable: .bodyTimeoutMilliseconds, defaultValue: "30000", valid: ("500", "500"), invalid: "y") { ms(try $0.httpLimits.bodyTimeout) },
        Row(variable: .maxConnections, defaultValue: "1000", valid: ("3", "3"), invalid: "0") { String(try $0.httpLimits.maxConnections) },
        Row(variable: .requestDeadlineMilliseconds, defaultValue: "30000", valid: ("500", "500"), invalid: "0") {
            ms(try $0.httpLimits.requestDeadline)
        },
        Row(variable: .statementTimeoutMilliseconds, defaultValue: "10000", valid: ("500", "500"), invalid: "0") { ms(try $0.statementTimeout) },
        Row(variable: .lockTimeoutMilliseconds, defaultValue: "3000", valid: ("500", "500"), invalid: "0") { ms(try $0.lockTimeout) },
        Row(variable: .federationAllowedNetworks, defaultValue: "parsed", valid: ("10.0.0.0/8", "parsed"), invalid: "banana") {
            _ = try $0.federationAllowedNetworks
            return "parsed"
        },
        Row(variable: .maxAuthorizationHeaders, defaultValue: "4", valid: ("2", "2"), invalid: "0") { String(try $0.maxAuthorizationHeaders) },
        Row(variable: .maxSignaturesPerServer, defaultValue: "4", valid: ("2", "2"), invalid: "0") { String(try $0.maxSignaturesPerServer) },
        Row(variable: .keyFetchConcurrency, defaultValue: "32", valid: ("2", "2"), invalid: "0") { String(try $0.keyFetchConcurrency) },
        Row(variable: .keyFetchQueueMilliseconds, defaultValue: "1000", valid: ("2", "2"), invalid: "0") { String(try $0.keyFetchQueueMilliseconds) },
        Row(variable: .keyDocumentMaxBytes, defaultValue: "65536", valid: ("2", "2"), invalid: "0") { String(try $0.keyDocumentMaxBytes) },
        Row(variable: .keyDocumentMaxKeys, defaultValue: "16", valid: ("2", "2"), invalid: "0") { String(try $0.keyDocumentMaxKeys) },
        Row(variable: .federationCacheSize, defaultValue: "10000", valid: ("2", "2"), invalid: "0") { String(try $0.federationCacheSize) },
        Row(variable: .sender, defaultValue: "true", valid: ("off", "false"), invalid: "maybe") { String(try $0.sender.isEnabled) },
        Row(variable: .senderLeaseMilliseconds, defaultValue: "30000", valid: ("60000", "60000"), invalid: "999") { ms(try $0.sender.lease) },
        Row(variable: .senderTimeoutMilliseconds, defaultValue: "15000", valid: ("1000", "1000"), invalid: "99") {
            ms(try $0.sender.requestTimeout)
        },
        Row(variable: .senderPollMilliseconds, defaultValue: "5000", valid: ("100", "100"), invalid: "5") { ms(try $0.sender.pollInterval) },
        Row(variable: .senderBackoffBaseMilliseconds, defaultValue: "1000", valid: ("10", "10"), invalid: "0") { ms(try $0.sender.backoff.base) },
        Row(variable: .senderBackoffMaximumMilliseconds, defaultValue: "600000", valid: ("2000", "2000"), invalid: "0") {
            ms(try $0.sender.backoff.maximum)
        },
        Row(variable: .senderConcurrency, defaultValue: "32", valid: ("4", "4"), invalid: "1001") {
            String(try $0.sender.maximumConcurrentDestinations)
        },
        Row(variable: .passthroughURL, defaultValue: nil, valid: ("http://hs.internal:8008/", "http://hs.internal:8008"),
            invalid: "hs.internal:8008") { try $0.passthroughURL ?? "none" },
        Row(variable: .feedMaxWaitMilliseconds, defaultValue: "25000", valid: ("1000", "1000"), invalid: "0") { ms(try $0.feedMaxWait) },
        Row(variable: .passthroughTimeoutMilliseconds, defaultValue: "10000", valid: ("2500", "2500"), invalid: "-1") {
            ms(try $0.passthroughTimeout)
        },
    ]

    @Test(arguments: rows)
    func defaultValidAndInvalid(_ row: Row) throws {
        let unset = try row.read(Settings(environment: [:]))
        if let expected = row.defaultValue { #expect(unset == expected) }
        if let valid = row.valid {
            #expect(try row.read(Settings(environment: [row.variable.rawValue: valid.input])) == valid.expected)
        }
        if let invalid = row.invalid {
            do {
                let value = try row.read(Settings(environment: [row.variable.rawValue: invalid]))
                Issue.record("\(invalid) accepted as \(value)")
            } catch {
                let message = "\(error)"
                #expect(message.contains(row.variable.rawValue), "\(message)")
                #expect(message.contains(invalid), "\(message)")
                #expect(!message.contains("\n"), "\(message)")
            }
        }
    }

    /// Settings whose large values broke the worker have a maximum: a key validity past 2^53 ms
    /// served an empty key document (and further on trapped), a huge pool allocated every slot.
    @Test func boundedSettingsRefuseValuesPastTheirMaximum() throws {
        #expect(try Settings(environment: ["LEAVE_WORKER_KEY_VALIDITY_SECONDS": "604800"]).keyValiditySeconds == 604_800)
        #expect(try Settings(environment: ["LEAVE_WORKER_DB_POOL_SIZE": "1000"]).poolSize == 1_000)
        for (variable, value) in [("LEAVE_WORKER_KEY_VALIDITY_SECONDS", "604801"), ("LEAVE_WORKER_KEY_VALIDITY_SECONDS", "9007199254741"),
                                  ("LEAVE_WORKER_DB_POOL_SIZE", "1001"), ("LEAVE_WORKER_DB_POOL_SIZE", "100000000")] {
            let settings = Settings(environment: [variable: value])
            do {
                let read = variable.hasSuffix("SECONDS") ? try settings.keyValiditySeconds : try settings.poolSize
                Issue.record("\(variable)=\(value) accepted as \(read)")
            } catch {
                #expect("\(error)".contains("at most"), "\(error)")
            }
        }
    }

    /// Every variable has a row above or a test of its own below.
    @Test func everyVariableIsCovered() {
        // The token file is read (and permission-checked) by the bridge: HomeserverBridgeTests.
        let covered = Set(Self.rows.map(\.variable)).union([.serverName, .signingKey, .internalTokenFile])
        #expect(covered == Set(Settings.Variable.allCases))
    }

    @Test func serverNameAndSigningKeyAreRequiredWhereUsed() throws {
        let empty = Settings(environment: [:])
        #expect(throws: Settings.Problem.self) { try empty.serverName }
        #expect(try Settings(environment: ["LEAVE_WORKER_SERVER_NAME": "a.test"]).serverName == "a.test")
        #expect(try empty.signingKeys(required: false) == nil)
        do {
            _ = try empty.signingKeys(required: true)
            Issue.record("a missing key file was accepted")
        } catch {
            #expect(error.description.contains("LEAVE_WORKER_SIGNING_KEY"))
        }
        do {
            _ = try Settings(environment: ["LEAVE_WORKER_SIGNING_KEY": "/nonexistent/key"]).currentSigningKey()
            Issue.record("an unreadable key file was accepted")
        } catch {
            #expect(error.description.contains("LEAVE_WORKER_SIGNING_KEY") && error.description.contains("/nonexistent/key"))
        }
    }

    /// A server name that is not one — a URL, a stray newline from a secret, a path, a bad port —
    /// started a worker that answered every signed request 401 (no request named it as its
    /// destination): refused at start, in one line.
    @Test func theServerNameMustBeAServerName() throws {
        for valid in ["resident.test", "localhost:8448", "matrix.example.org", "resident.localhost", "127.0.0.1:8448", "[::1]:8448"] {
            #expect(try Settings(environment: ["LEAVE_WORKER_SERVER_NAME": valid]).serverName == valid)
        }
        for invalid in ["https://example.org", "example.org\n", "example.org/", "example.org:0", "example.org:", "exa mple.org",
                        "example.org.", "_matrix.example.org"] {
            do {
                let name = try Settings(environment: ["LEAVE_WORKER_SERVER_NAME": invalid]).serverName
                Issue.record("\(String(reflecting: invalid)) accepted as \(name)")
            } catch {
                #expect(error.description.contains("LEAVE_WORKER_SERVER_NAME"), "\(error)")
                #expect(!error.description.contains("\n"), "\(error)")
            }
        }
    }

    @Test func flagsOverrideTheEnvironmentAndEmptyValuesAreUnset() throws {
        let settings = Settings(environment: ["LEAVE_WORKER_LOG_FORMAT": "json", "LEAVE_WORKER_LOG_LEVEL": ""],
                                overrides: [.logFormat: "text"])
        #expect(try settings.logFormat == .text)
        #expect(try settings.logLevel == "info")
        // An empty flag counts as unset too (`--database-direct-url "$UNSET"` kept the pooled URL's
        // meaning apart from the direct one's: pooled mode with LISTEN on libpq's defaults).
        let emptyFlags = Settings(environment: ["LEAVE_WORKER_DATABASE_URL": "postgresql://db/x"],
                                  overrides: [.databaseDirectURL: "", .shutdownDrainMilliseconds: ""])
        #expect(emptyFlags.databaseDirectURL == "postgresql://db/x")
        #expect(try emptyFlags.shutdownDrain == .zero)
    }

    @Test func everyVariableHasADistinctFlag() {
        let flags = Settings.Variable.allCases.map(\.flag)
        #expect(Set(flags).count == flags.count)
        #expect(Settings.Variable.databaseURL.flag == "database-url")
        #expect(Settings.Variable.poolSize.flag == "db-pool-size")
    }
}
