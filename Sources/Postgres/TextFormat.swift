/// Decoders for values in Postgres' text output format.
enum TextFormat {
    /// An optionally signed decimal integer; nil if malformed or outside Int64.
    static func int64(_ text: ArraySlice<UInt8>) -> Int64? {
        var digits = text[...]
        let negative = digits.first == UInt8(ascii: "-")
        if negative { digits = digits.dropFirst() }
        guard !digits.isEmpty else { return nil }
        var magnitude: UInt64 = 0
        for byte in digits {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            let (times10, overflow1) = magnitude.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(UInt64(byte - UInt8(ascii: "0")))
            guard !overflow1, !overflow2 else { return nil }
            magnitude = sum
        }
        if negative {
            guard magnitude <= UInt64(Int64.max) + 1 else { return nil }
            return magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude)
        }
        return Int64(exactly: magnitude)
    }

    static func bool(_ text: ArraySlice<UInt8>) -> Bool? {
        guard text.count == 1 else { return nil }
        switch text.first {
        case UInt8(ascii: "t"): return true
        case UInt8(ascii: "f"): return false
        default: return nil
        }
    }

    /// bytea in hex output format (`\x0a1b…`, the server default since 9.0).
    static func bytea(_ text: ArraySlice<UInt8>) -> [UInt8]? {
        guard text.count >= 2, text.count % 2 == 0,
              text.first == UInt8(ascii: "\\"), text[text.startIndex + 1] == UInt8(ascii: "x")
        else { return nil }
        var bytes = [UInt8]()
        bytes.reserveCapacity((text.count - 2) / 2)
        var index = text.startIndex + 2
        while index < text.endIndex {
            guard let high = hexDigit(text[index]), let low = hexDigit(text[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }

    private static func hexDigit(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// A one-dimensional array literal such as `{a,"b c","d\"e"}`; nil for NULL elements,
    /// nested arrays, explicit bounds (`[0:1]={…}`) or malformed text.
    static func stringArray(_ text: ArraySlice<UInt8>) -> [String]? {
        guard text.first == UInt8(ascii: "{"), text.last == UInt8(ascii: "}") else { return nil }
        let body = text.dropFirst().dropLast()
        guard !body.isEmpty else { return [] }
        var elements: [String] = []
        var index = body.startIndex
        while true {
            guard index < body.endIndex else { return nil }
            if body[index] == UInt8(ascii: "\"") {
                index += 1
                let start = index
                var escaped = false
                while true {
                    guard index < body.endIndex else { return nil }
                    let byte = body[index]
                    if byte == UInt8(ascii: "\"") { break }
                    if byte == UInt8(ascii: "\\") {
                        escaped = true
                        index += 1
                        guard index < body.endIndex else { return nil }
                    }
                    index += 1
                }
                let quoted = body[start..<index]
                index += 1
                elements.append(escaped ? unescaped(quoted) : String(decoding: quoted, as: UTF8.self))
            } else {
                let start = index
                while index < body.endIndex, body[index] != UInt8(ascii: ",") {
                    let byte = body[index]
                    guard byte != UInt8(ascii: "{"), byte != UInt8(ascii: "\""), byte != UInt8(ascii: "\\") else { return nil }
                    index += 1
                }
                let element = body[start..<index]
                if element.elementsEqual("NULL".utf8) { return nil }
                elements.append(String(decoding: element, as: UTF8.self))
            }
            if index == body.endIndex { return elements }
            guard body[index] == UInt8(ascii: ",") else { return nil }
            index += 1
        }
    }

    /// The text of a quoted array element whose backslashes escape the byte after them (the
    /// element was already checked to end in a closing quote, not in a lone backslash).
    private static func unescaped(_ quoted: ArraySlice<UInt8>) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(quoted.count)
        var index = quoted.startIndex
        while index < quoted.endIndex {
            if quoted[index] == UInt8(ascii: "\\") { index += 1 }
            bytes.append(quoted[index])
            index += 1
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
