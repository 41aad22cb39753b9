/// Why a value has no canonical JSON form.
public enum CanonicalJSONError: Error, Equatable, CustomStringConvertible {
    /// A float, or an integer outside ±(2^53 − 1), written as its text.
    case nonCanonicalNumber(String)

    public var description: String {
        switch self {
        case .nonCanonicalNumber(let text): return "number \(text) is not allowed in canonical JSON"
        }
    }
}

extension JSONValue {
    /// Canonical JSON bytes (sorted keys, minimal escaping, no whitespace). Throws on any
    /// non-canonical number (any `.nonCanonicalNumber`, any integer outside ±(2^53−1)).
    public func canonicalBytes() throws(CanonicalJSONError) -> [UInt8] {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(256)
        try appendCanonical(to: &buffer)
        return buffer
    }

    /// Appends the canonical JSON bytes of this value to `buffer` (on a throw, `buffer` may hold
    /// part of them).
    public func appendCanonical(to buffer: inout [UInt8]) throws(CanonicalJSONError) {
        try JSONWriter<CanonicalNumbers>.append(self, to: &buffer)
    }

    /// The canonical JSON text of this value.
    public func canonicalString() throws(CanonicalJSONError) -> String {
        String(decoding: try canonicalBytes(), as: UTF8.self)
    }

    /// Same layout as ``canonicalBytes()`` but numbers written as stored (non-canonical number
    /// text verbatim, any `Int64`): for echoing or storing old v1–v5 events. Never used for
    /// hashing or signing.
    public func compactBytes() -> [UInt8] {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(256)
        appendCompact(to: &buffer)
        return buffer
    }

    /// Appends the bytes ``compactBytes()`` returns to `buffer`.
    public func appendCompact(to buffer: inout [UInt8]) {
        JSONWriter<VerbatimNumbers>.append(self, to: &buffer)
    }
}

extension JSONObject {
    /// Canonical JSON bytes of this object; see ``JSONValue/canonicalBytes()``.
    public func canonicalBytes() throws(CanonicalJSONError) -> [UInt8] {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(256)
        try JSONWriter<CanonicalNumbers>.append(object: self, to: &buffer)
        return buffer
    }

    /// Compact bytes of this object with numbers as stored; see ``JSONValue/compactBytes()``.
    public func compactBytes() -> [UInt8] {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(256)
        JSONWriter<VerbatimNumbers>.append(object: self, to: &buffer)
        return buffer
    }
}
