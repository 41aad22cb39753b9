/// The strict JSON parser for everything received over federation.
///
/// RFC 8259 grammar on UTF-8 bytes, with the refusals Matrix needs: invalid UTF-8, unpaired
/// surrogate escapes, duplicate keys (byte-equal), `NaN`/`Infinity`, trailing garbage, nesting
/// deeper than ``Limits/maxDepth`` and input longer than ``Limits/maxBytes``. Integer literals
/// that fit `Int64` become ``JSONValue/integer(_:)`` (`-0` becomes `0`); any literal with a
/// fraction or exponent, or an integer beyond `Int64`, becomes
/// ``JSONValue/nonCanonicalNumber(_:)`` holding its source text. The parser is iterative, so
/// hostile nesting cannot exhaust the stack.
public struct JSONParser {
    /// Bounds that protect the parser from hostile input.
    public struct Limits: Sendable {
        /// Most containers (objects and arrays) that may enclose one another.
        public var maxDepth: Int
        /// Longest accepted input, in bytes.
        public var maxBytes: Int

        public init(maxDepth: Int = 64, maxBytes: Int = 1 << 20) {
            self.maxDepth = maxDepth
            self.maxBytes = maxBytes
        }

        /// Depth 64, 1 MiB.
        public static let `default` = Limits()
    }

    /// Parses one JSON text (surrounding whitespace allowed).
    public static func parse(_ bytes: some Collection<UInt8>, limits: Limits = .default) throws(JSONParseError)
        -> JSONValue
    {
        guard bytes.count <= limits.maxBytes else { throw .tooLarge }
        let contiguous = bytes.withContiguousStorageIfAvailable { buffer in
            Result { () throws(JSONParseError) in try parse(buffer: buffer, limits: limits) }
        }
        if let contiguous { return try contiguous.get() }
        return try Array(bytes).withUnsafeBufferPointer { buffer in
            Result { () throws(JSONParseError) in try parse(buffer: buffer, limits: limits) }
        }.get()
    }

    /// Parses the UTF-8 form of `text`.
    public static func parse(_ text: String, limits: Limits = .default) throws(JSONParseError) -> JSONValue {
        try parse(text.utf8, limits: limits)
    }

    private static func parse(buffer: UnsafeBufferPointer<UInt8>, limits: Limits) throws(JSONParseError)
        -> JSONValue
    {
        var parser = JSONByteParser(input: buffer, maxDepth: limits.maxDepth)
        return try parser.parseDocument()
    }
}
