/// Why a byte string was refused as JSON. Every case maps to `M_NOT_JSON` at the HTTP layer.
public enum JSONParseError: Error, Equatable, CustomStringConvertible {
    /// Not RFC 8259 JSON at `offset` (bytes from the start): bad token, bad escape, leading zero,
    /// `NaN`/`Infinity`, unescaped control character, trailing garbage, unexpected end.
    case syntax(offset: Int, reason: String)
    /// The byte sequence starting at `offset` is not well-formed UTF-8 (overlong forms and
    /// UTF-8-encoded surrogates included).
    case invalidUTF8(offset: Int)
    /// A `\u` escape at `offset` is a surrogate without its partner.
    case loneSurrogate(offset: Int)
    /// An object has two members whose keys are equal byte for byte.
    case duplicateKey(String)
    /// Containers are nested deeper than ``JSONParser/Limits/maxDepth``.
    case tooDeep
    /// The input is longer than ``JSONParser/Limits/maxBytes``.
    case tooLarge

    public var description: String {
        switch self {
        case .syntax(let offset, let reason): return "invalid JSON at byte \(offset): \(reason)"
        case .invalidUTF8(let offset): return "invalid UTF-8 at byte \(offset)"
        case .loneSurrogate(let offset): return "unpaired surrogate escape at byte \(offset)"
        case .duplicateKey(let key): return "duplicate object key \"\(key)\""
        case .tooDeep: return "JSON nested too deeply"
        case .tooLarge: return "JSON document too large"
        }
    }
}
