import Foundation
import Logging
import MatrixCore

/// A swift-log handler writing one JSON object per line to standard error: `ts` (RFC 3339, UTC,
/// milliseconds), `level`, `message`, `label`, then the metadata flattened into the same object
/// (nested dictionaries as `outer.inner` keys; `Int` and finite `Double` values passed as
/// `.stringConvertible` become JSON numbers). The four
/// fixed fields win over metadata keys of the same name. Each line goes whole to ``LogOutput``,
/// so lines of concurrent tasks never interleave.
public struct JSONLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String
    private let output: LogOutput

    public init(label: String, metadataProvider: Logger.MetadataProvider? = LoggingSystem.metadataProvider) {
        self.init(label: label, metadataProvider: metadataProvider, output: .standardError)
    }

    init(label: String, metadataProvider: Logger.MetadataProvider?, output: LogOutput) {
        self.label = label
        self.metadataProvider = metadataProvider
        self.output = output
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        // Handler, provided and explicit metadata, later ones winning key by key — flattened layer
        // by layer rather than merged into a new dictionary first (≈ 0.5 % of a worker's CPU: one
        // access-log line per request).
        var layers = [metadata]
        if let provided = metadataProvider?.get() { layers.append(provided) }
        if let explicit = event.metadata { layers.append(explicit) }
        if let error = event.error { layers.append(["error": .string("\(error)")]) }
        var line = Self.line(level: event.level, message: event.message.description, label: label, metadata: layers,
                             timestamp: Date()).compactBytes()
        line.append(UInt8(ascii: "\n"))
        line.withUnsafeBytes { output.append($0) }
    }

    /// The JSON object of one log line; a metadata key of a later layer replaces the whole value of
    /// an earlier layer's.
    static func line(level: Logger.Level, message: String, label: String, metadata layers: [Logger.Metadata], timestamp: Date) -> JSONValue {
        var object: JSONObject = [:]
        for (index, layer) in layers.enumerated() {
            for (key, value) in layer where !layers[(index + 1)...].contains(where: { $0[key] != nil }) {
                flatten(value, key: key, into: &object)
            }
        }
        object["ts"] = .string(timestampText(timestamp))
        object["level"] = .string(level.rawValue)
        object["message"] = .string(message)
        object["label"] = .string(label)
        return .object(object)
    }

    private static func flatten(_ value: Logger.MetadataValue, key: String, into object: inout JSONObject) {
        switch value {
        case .string(let text): object[key] = .string(text)
        case .stringConvertible(let convertible):
            switch convertible {
            case let number as Int: object[key] = .integer(Int64(number))
            case let number as Double where number.isFinite: object[key] = .nonCanonicalNumber(threeDecimals(number))
            default: object[key] = .string(convertible.description)
            }
        case .array(let values): object[key] = .array(values.map { .string($0.description) })
        case .dictionary(let nested):
            for (inner, value) in nested { flatten(value, key: "\(key).\(inner)", into: &object) }
        }
    }
}
