/// Splits an `Authorization: X-Matrix …` value into its parameters (RFC 9110 §11.4 auth-params):
/// scheme `X-Matrix` (case-sensitive, as Synapse), one or more spaces, then comma-separated
/// `name=value` pairs with optional spaces/tabs around commas and `=`. Names are returned lower-cased.
/// A value is a quoted string (`\x` stands for `x`) or an unquoted run of visible ASCII other than
/// `"` and `,` — a superset of `token` that admits the `:` of key IDs, as senders rely on.
enum XMatrixHeaderParser {
    static let scheme = Array("X-Matrix".utf8)

    /// Whether the header uses the X-Matrix scheme (byte prefix `X-Matrix`, as Synapse tests it;
    /// `X-Matrixfoo` counts, and then fails to parse).
    static func hasScheme(_ headerValue: String) -> Bool {
        headerValue.utf8.starts(with: scheme)
    }

    /// The parameters of an X-Matrix header, in order, names lower-cased.
    static func parameters(_ headerValue: String) throws(XMatrixError) -> [(name: String, value: String)] {
        var cursor = Cursor(bytes: Array(headerValue.utf8))
        guard cursor.bytes.starts(with: scheme) else { throw .malformed("scheme is not X-Matrix") }
        cursor.index = scheme.count
        guard cursor.skip(while: { $0 == space }) > 0 else { throw .malformed("no space after X-Matrix") }
        var parameters: [(name: String, value: String)] = []
        while true {
            cursor.skipWhitespace()
            guard let byte = cursor.current else { break }
            if byte == comma {  // empty list element (RFC 9110 §5.6.1)
                cursor.index += 1
                continue
            }
            let name = try cursor.name()
            cursor.skipWhitespace()
            guard cursor.current == equals else { throw .malformed("expected '=' after parameter \(name)") }
            cursor.index += 1
            cursor.skipWhitespace()
            let value = cursor.current == quote ? try cursor.quotedValue() : try cursor.unquotedValue(of: name)
            parameters.append((name, value))
            cursor.skipWhitespace()
            guard let next = cursor.current else { break }
            guard next == comma else { throw .malformed("unexpected character after parameter \(name)") }
            cursor.index += 1
        }
        return parameters
    }

    private static let space = UInt8(ascii: " ")
    private static let tab = UInt8(ascii: "\t")
    private static let comma = UInt8(ascii: ",")
    private static let equals = UInt8(ascii: "=")
    private static let quote = UInt8(ascii: "\"")
    private static let backslash = UInt8(ascii: "\\")

    /// RFC 9110 `tchar`.
    private static func isTokenChar(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }

    /// A byte allowed in an unquoted value: visible ASCII except `"` and `,`.
    private static func isUnquotedValueChar(_ byte: UInt8) -> Bool {
        byte >= 0x21 && byte <= 0x7E && byte != quote && byte != comma
    }

    /// A byte allowed inside a quoted string or after a backslash: HTAB, SP, VCHAR, obs-text.
    private static func isQuotedChar(_ byte: UInt8) -> Bool {
        byte == tab || (byte >= 0x20 && byte != 0x7F)
    }

    private struct Cursor {
        let bytes: [UInt8]
        var index = 0

        var current: UInt8? { index < bytes.count ? bytes[index] : nil }

        @discardableResult
        mutating func skip(while predicate: (UInt8) -> Bool) -> Int {
            let start = index
            while let byte = current, predicate(byte) { index += 1 }
            return index - start
        }

        mutating func skipWhitespace() {
            skip(while: { $0 == XMatrixHeaderParser.space || $0 == XMatrixHeaderParser.tab })
        }

        mutating func name() throws(XMatrixError) -> String {
            let start = index
            guard skip(while: XMatrixHeaderParser.isTokenChar) > 0 else {
                throw .malformed("expected a parameter name at offset \(start)")
            }
            return String(decoding: bytes[start..<index], as: UTF8.self).lowercased()
        }

        mutating func unquotedValue(of name: String) throws(XMatrixError) -> String {
            let start = index
            guard skip(while: XMatrixHeaderParser.isUnquotedValueChar) > 0 else {
                throw .malformed("parameter \(name) has no value")
            }
            return String(decoding: bytes[start..<index], as: UTF8.self)
        }

        /// Reads `"…"` starting at the opening quote; `\x` yields `x`.
        mutating func quotedValue() throws(XMatrixError) -> String {
            index += 1
            var value: [UInt8] = []
            value.reserveCapacity(bytes.count - index)  // one allocation, not one per doubling
            while true {
                guard let byte = current else { throw .malformed("unterminated quoted value") }
                index += 1
                if byte == XMatrixHeaderParser.quote { break }
                var literal = byte
                if byte == XMatrixHeaderParser.backslash {
                    guard let escaped = current else { throw .malformed("unterminated quoted value") }
                    index += 1
                    literal = escaped
                }
                guard XMatrixHeaderParser.isQuotedChar(literal) else {
                    throw .malformed("control character in a quoted value")
                }
                value.append(literal)
            }
            return String(decoding: value, as: UTF8.self)
        }
    }
}
