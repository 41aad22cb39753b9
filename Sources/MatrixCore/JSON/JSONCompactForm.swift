/// Whether bytes are already what ``JSONValue/compactBytes()`` writes for the object
/// ``JSONParser`` reads from them — so parsing and writing them again would give the same bytes —
/// decided in one pass without building the value.
///
/// The federation sender puts each stored PDU into a transaction body in that form (the X-Matrix
/// signature covers the body's exact bytes); the leaves this worker stores are already in it, so
/// the sender can take their bytes as they are instead of parsing and writing each again.
///
/// Conservative by design: `true` guarantees `JSONParser.parse(bytes)` is an object with only
/// 64-bit integers whose compact bytes equal `bytes`; `false` only means "parse and write to
/// find out". It recognises an object with no whitespace, keys in strictly ascending byte order
/// and without escapes, strings escaped exactly as the writer escapes them (`\"`, `\\`, the short
/// control escapes, `\u00xx` in lowercase for the other controls), valid UTF-8, integers in plain
/// decimal within `Int64` (never `-0`), nesting below ``JSONParser/Limits/maxDepth``, and size
/// within ``JSONParser/Limits/maxBytes``.
public enum JSONCompactForm {
    public static func isCompact(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBufferPointer { isCompact($0) }
    }

    public static func isCompact(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard bytes.count <= JSONParser.Limits.default.maxBytes, bytes.first == UInt8(ascii: "{") else { return false }
        var scanner = Scanner(input: bytes)
        return scanner.value(depth: 0) && scanner.position == bytes.count
    }

    private struct Scanner {
        let input: UnsafeBufferPointer<UInt8>
        var position = 0

        init(input: UnsafeBufferPointer<UInt8>) {
            self.input = input
        }

        private var current: UInt8? { position < input.count ? input[position] : nil }

        /// One value at `position`, which it moves past; `depth` containers enclose it.
        mutating func value(depth: Int) -> Bool {
            guard let byte = current else { return false }
            switch byte {
            case UInt8(ascii: "{"): return object(depth: depth + 1)
            case UInt8(ascii: "["): return array(depth: depth + 1)
            case UInt8(ascii: "\""): return string() != nil
            case UInt8(ascii: "t"): return literal("true")
            case UInt8(ascii: "f"): return literal("false")
            case UInt8(ascii: "n"): return literal("null")
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return integer()
            default: return false
            }
        }

        private mutating func object(depth: Int) -> Bool {
            var previousKey: Range<Int>?
            return elements(closedBy: UInt8(ascii: "}"), depth: depth) { scanner in
                guard scanner.current == UInt8(ascii: "\""), let key = scanner.string(), !key.escaped else { return false }
                if let previousKey, !Self.ascending(scanner.input[previousKey], scanner.input[key.content]) { return false }
                previousKey = key.content
                guard scanner.current == UInt8(ascii: ":") else { return false }
                scanner.position += 1
                return scanner.value(depth: depth)
            }
        }

        private mutating func array(depth: Int) -> Bool {
            elements(closedBy: UInt8(ascii: "]"), depth: depth) { $0.value(depth: depth) }
        }

        /// The members or elements of the container at `position` (on its opening bracket), each
        /// read by `element`, comma-separated, up to `close`; `depth` containers enclose them.
        private mutating func elements(closedBy close: UInt8, depth: Int, _ element: (inout Scanner) -> Bool) -> Bool {
            guard depth < JSONParser.Limits.default.maxDepth else { return false }
            position += 1
            if current == close {
                position += 1
                return true
            }
            while true {
                guard element(&self) else { return false }
                guard let next = current else { return false }
                position += 1
                if next == close { return true }
                guard next == UInt8(ascii: ",") else { return false }
            }
        }

        /// A string at `position` (on its opening quote) in the writer's escaping; its content's
        /// byte range and whether it holds an escape. Nil if it is not in that form.
        private mutating func string() -> (content: Range<Int>, escaped: Bool)? {
            position += 1
            let start = position
            var escaped = false
            while true {
                position = JSONByteScan.nextEscaped(in: input, from: position)
                guard let byte = current, byte >= 0x20 else { return nil }
                if byte == UInt8(ascii: "\"") { break }
                guard escape() else { return nil }   // a backslash
                escaped = true
            }
            let content = start..<position
            position += 1
            if input[content].contains(where: { $0 >= 0x80 }),
               String(validating: UnsafeBufferPointer(rebasing: input[content]), as: UTF8.self) == nil {
                return nil   // the parser refuses invalid UTF-8
            }
            return (content, escaped)
        }

        /// The escape at `position` (on its backslash), if it is one the writer writes.
        private mutating func escape() -> Bool {
            guard position + 1 < input.count else { return false }
            switch input[position + 1] {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "b"), UInt8(ascii: "t"),
                 UInt8(ascii: "n"), UInt8(ascii: "f"), UInt8(ascii: "r"):
                position += 2
                return true
            case UInt8(ascii: "u"):
                // \u00xx, lowercase, only for a control the short escapes do not cover.
                guard position + 6 <= input.count, input[position + 2] == UInt8(ascii: "0"), input[position + 3] == UInt8(ascii: "0"),
                      let high = Self.lowercaseHex(input[position + 4]), high <= 1,
                      let low = Self.lowercaseHex(input[position + 5]) else { return false }
                let control = high << 4 | low
                guard ![0x08, 0x09, 0x0A, 0x0C, 0x0D].contains(control) else { return false }
                position += 6
                return true
            default:
                return false
            }
        }

        /// An integer in plain decimal that fits `Int64`; `-0` and anything with a fraction or
        /// exponent are not in compact form (the writer writes `0`, or they are not integers).
        private mutating func integer() -> Bool {
            let negative = current == UInt8(ascii: "-")
            if negative { position += 1 }
            let start = position
            while let byte = current, byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") { position += 1 }
            let digits = input[start..<position]
            guard let first = digits.first else { return false }
            if first == UInt8(ascii: "0") && (digits.count > 1 || negative) { return false }
            if let next = current, next == UInt8(ascii: ".") || next == UInt8(ascii: "e") || next == UInt8(ascii: "E") {
                return false
            }
            let limit = negative ? Self.int64MinMagnitude : Self.int64MaxMagnitude
            return digits.count < limit.count
                || (digits.count == limit.count && !limit.lexicographicallyPrecedes(digits))
        }

        private mutating func literal(_ text: StaticString) -> Bool {
            let count = text.utf8CodeUnitCount
            guard position + count <= input.count else { return false }
            let matches = text.withUTF8Buffer { expected in input[position..<position + count].elementsEqual(expected) }
            position += count
            return matches
        }

        private static let int64MaxMagnitude = Array("9223372036854775807".utf8)
        private static let int64MinMagnitude = Array("9223372036854775808".utf8)

        private static func lowercaseHex(_ byte: UInt8) -> UInt8? {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
            default: nil
            }
        }

        /// Strictly ascending by bytes: ``JSONObject``'s member order, and no duplicate.
        private static func ascending(_ left: Slice<UnsafeBufferPointer<UInt8>>, _ right: Slice<UnsafeBufferPointer<UInt8>>) -> Bool {
            left.lexicographicallyPrecedes(right)
        }
    }
}
