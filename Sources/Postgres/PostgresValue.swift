/// A statement parameter. Each case is sent as a typed binary parameter (never spliced into SQL):
/// `text` → text, `int` → int8, `bytes` → bytea, `bool` → bool, `textArray` → text[].
/// `null` leaves the type unspecified so the server infers it from the statement.
public enum PostgresValue: Sendable, Equatable {
    case null
    case text(String)
    case int(Int64)
    case bytes([UInt8])
    case bool(Bool)
    case textArray([String])
    case int8Array([Int64])
}

/// Type OIDs of the built-in types this module sends or decodes specially.
enum PostgresTypeOID {
    static let unspecified: UInt32 = 0
    static let bool: UInt32 = 16
    static let bytea: UInt32 = 17
    static let int8: UInt32 = 20
    static let text: UInt32 = 25
    static let textArray: UInt32 = 1009
    static let int8Array: UInt32 = 1016
}

extension PostgresValue {
    /// The parameter type declared when the statement is prepared.
    var typeOID: UInt32 {
        switch self {
        case .null: PostgresTypeOID.unspecified
        case .text: PostgresTypeOID.text
        case .int: PostgresTypeOID.int8
        case .bytes: PostgresTypeOID.bytea
        case .bool: PostgresTypeOID.bool
        case .textArray: PostgresTypeOID.textArray
        case .int8Array: PostgresTypeOID.int8Array
        }
    }
}
