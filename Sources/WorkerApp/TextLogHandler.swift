import Logging

/// The `text` log format: swift-log's `StreamLogHandler` lines, with control characters in the
/// message and metadata values written as escapes (`\n`, `\r`, `\t`, `\u{1B}`): the stream handler
/// writes values as they are, so a JSON member name or an event ID quoted in an error could end
/// the line and write a forged one (an access line naming another origin). The JSON format
/// escapes them by itself.
struct TextLogHandler: LogHandler {
    private var base: StreamLogHandler

    init(label: String) {
        base = StreamLogHandler(label: label, stream: LogOutput.standardError, metadataProvider: LoggingSystem.metadataProvider)
    }

    var logLevel: Logger.Level {
        get { base.logLevel }
        set { base.logLevel = newValue }
    }

    var metadata: Logger.Metadata {
        get { base.metadata }
        set { base.metadata = newValue.mapValues(Self.escaped) }
    }

    var metadataProvider: Logger.MetadataProvider? {
        get { base.metadataProvider }
        set { base.metadataProvider = newValue }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { base[metadataKey: key] }
        set { base[metadataKey: key] = newValue.map(Self.escaped) }
    }

    func log(level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String,
             file: String, function: String, line: UInt) {
        base.log(level: level, message: "\(Self.escaped(message.description))", metadata: metadata?.mapValues(Self.escaped),
                 source: source, file: file, function: function, line: line)
    }

    private static func escaped(_ value: Logger.Metadata.Value) -> Logger.Metadata.Value {
        switch value {
        case .string(let text): .string(escaped(text))
        case .stringConvertible(let convertible): .string(escaped(convertible.description))
        case .array(let values): .array(values.map(escaped))
        case .dictionary(let values): .dictionary(values.mapValues(escaped))
        }
    }

    /// `text` with each C0 control character and DEL written as an escape; itself when it has none.
    static func escaped(_ text: String) -> String {
        guard text.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) else { return text }
        var result = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                result += "\\u{\(String(scalar.value, radix: 16, uppercase: true))}"
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result
    }
}
