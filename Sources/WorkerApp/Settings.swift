import Federation
import Foundation
import MatrixCore

/// The worker's settings: every `LEAVE_WORKER_*` environment variable (``Variable``), read once
/// from the environment with the command-line flags on top, and parsed here only — every other
/// module gets typed values from it. Parsing is strict: a malformed value is one clear message
/// naming the variable.
public struct Settings: Sendable {
    /// A setting that is missing or malformed, with the variable's name in the message.
    public struct Problem: Error, CustomStringConvertible, Equatable {
        public let description: String
    }

    /// The raw values: the environment with flag overrides applied on top (an empty value, of
    /// either, counts as unset).
    public let values: [Variable: String]

    public init(environment: [String: String] = ProcessInfo.processInfo.environment, overrides: [Variable: String] = [:]) {
        var values: [Variable: String] = [:]
        for variable in Variable.allCases {
            if let value = environment[variable.rawValue], !value.isEmpty { values[variable] = value }
        }
        for (variable, value) in overrides where !value.isEmpty { values[variable] = value }
        self.values = values
    }

    public func required(_ variable: Variable) throws(Problem) -> String {
        guard let value = values[variable] else {
            throw Problem(description: "\(variable.rawValue) is required (or its flag)")
        }
        return value
    }

    /// This server's name, as other servers address it: a server name (a host with an optional
    /// port, as in user IDs), checked here — a URL or a stray newline would have the worker start
    /// and answer every signed request 401, as no request would be addressed to it.
    public var serverName: String {
        get throws(Problem) {
            let text = try required(.serverName)
            guard ServerName(text) != nil else {
                throw Problem(description: """
                    \(Variable.serverName.rawValue) must be a server name (host or host:port, as in user IDs), got \
                    \(String(reflecting: text))
                    """)
            }
            return text
        }
    }

    /// The output format of the process's logs.
    public enum LogFormat: String, Sendable {
        case text, json
    }

    public var databaseURL: String { values[.databaseURL] ?? "postgresql:///leave_worker" }

    /// The server itself, for LISTEN and `migrate`, when `databaseURL` is a transaction pooler (PgBouncer).
    public var databaseDirectURL: String { values[.databaseDirectURL] ?? databaseURL }

    /// `host:port` of the federation listener; IPv6 hosts in brackets (`[::1]:8448`).
    public var listen: (host: String, port: Int) {
        get throws(Problem) { try hostPort(.listen, text: values[.listen] ?? "127.0.0.1:8448") }
    }

    /// `host:port` of the internal listener (`/metrics`, `/ready`, `/health`), or nil: those are
    /// then served on the federation listener.
    public var internalListen: (host: String, port: Int)? {
        get throws(Problem) { try values[.internalListen].map { text throws(Problem) in try hostPort(.internalListen, text: text) } }
    }

    /// On SIGTERM, how long `/ready` answers 503 before the federation listener closes (0: at once).
    public var shutdownDrain: Duration {
        get throws(Problem) {
            guard values[.shutdownDrainMilliseconds] != "0" else { return .zero }
            return try milliseconds(.shutdownDrainMilliseconds, default: 0)
        }
    }

    private func hostPort(_ variable: Variable, text: String) throws(Problem) -> (host: String, port: Int) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
            (0...65535).contains(port)
        else { throw Problem(description: "\(variable.rawValue) must be host:port, got '\(text)'") }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { throw Problem(description: "\(variable.rawValue) has no host: '\(text)'") }
        return (host, port)
    }

    /// Connections per process: by default two per core, at least 4.
    public var poolSize: Int {
        get throws(Problem) {
            try positiveInteger(.poolSize, default: max(4, ProcessInfo.processInfo.activeProcessorCount * 2), maximum: 1_000)
        }
    }

    /// The longest a feed read (`GET /_leave_worker/v1/events`) long-polls.
    public var feedMaxWait: Duration { get throws(Problem) { try milliseconds(.feedMaxWaitMilliseconds, default: 25_000) } }
    /// The homeserver of record's base URL (no trailing `/`), or nil: rooms not held are then 404.
    public var passthroughURL: String? {
        get throws(Problem) {
            guard var url = values[.passthroughURL] else { return nil }
            guard url.hasPrefix("http://") || url.hasPrefix("https://") else {
                throw Problem(description: "\(Variable.passthroughURL.rawValue) must be an http:// or https:// URL, got '\(url)'")
            }
            while url.hasSuffix("/") { url.removeLast() }
            return url
        }
    }
    /// How long a passed-through request may take upstream.
    public var passthroughTimeout: Duration {
        get throws(Problem) { try milliseconds(.passthroughTimeoutMilliseconds, default: 10_000) }
    }

    public var logLevel: String {
        get throws(Problem) {
            let level = values[.logLevel] ?? "info"
            let known = ["trace", "debug", "info", "notice", "warning", "error", "critical"]
            guard known.contains(level) else {
                throw Problem(description: "\(Variable.logLevel.rawValue) must be one of \(known.joined(separator: ", ")), got '\(level)'")
            }
            return level
        }
    }

    /// `text` (swift-log's stream handler) or `json` (one object per line, ``JSONLogHandler``).
    public var logFormat: LogFormat {
        get throws(Problem) {
            let text = values[.logFormat] ?? "text"
            guard let format = LogFormat(rawValue: text) else {
                throw Problem(description: "\(Variable.logFormat.rawValue) must be text or json, got '\(text)'")
            }
            return format
        }
    }

    /// A positive number of milliseconds, at most a day.
    func milliseconds(_ variable: Variable, default fallback: Int) throws(Problem) -> Duration {
        let value = try positiveInteger(variable, default: fallback)
        guard value <= 86_400_000 else {
            throw Problem(description: "\(variable.rawValue) must be at most 86400000 (a day), got '\(value)'")
        }
        return .milliseconds(value)
    }

    func positiveInteger(_ variable: Variable, default fallback: Int, maximum: Int = .max) throws(Problem) -> Int {
        guard let text = values[variable] else { return fallback }
        guard let value = Int(text), value > 0, value <= maximum else {
            let bound = maximum == .max ? "" : " of at most \(maximum)"
            throw Problem(description: "\(variable.rawValue) must be a positive integer\(bound), got '\(text)'")
        }
        return value
    }
}
