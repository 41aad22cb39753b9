/// How ``JSONWriter`` writes numbers.
protocol JSONNumberPolicy {
    associatedtype Failure: Error
    static func append(integer: Int64, to buffer: inout [UInt8]) throws(Failure)
    static func append(nonCanonicalNumber text: String, to buffer: inout [UInt8]) throws(Failure)
}

/// Appends `integer` in plain decimal.
private func appendDecimal(_ integer: Int64, to buffer: inout [UInt8]) {
    if integer < 0 { buffer.append(UInt8(ascii: "-")) }
    let firstDigit = buffer.count
    var remaining = integer.magnitude
    repeat {
        buffer.append(UInt8(ascii: "0") + UInt8(remaining % 10))
        remaining /= 10
    } while remaining > 0
    // Swapped by index: `buffer[firstDigit...].reverse()` copied the slice to a new array first
    // (a malloc per number written).
    var low = firstDigit, high = buffer.count - 1
    while low < high {
        buffer.swapAt(low, high)
        low += 1
        high -= 1
    }
}

/// Canonical JSON numbers: integers within ±(2^53 − 1) only.
enum CanonicalNumbers: JSONNumberPolicy {
    static func append(integer: Int64, to buffer: inout [UInt8]) throws(CanonicalJSONError) {
        guard integer.magnitude <= JSONValue.maxCanonicalInteger.magnitude else {
            throw .nonCanonicalNumber(String(integer))
        }
        appendDecimal(integer, to: &buffer)
    }

    static func append(nonCanonicalNumber text: String, to buffer: inout [UInt8]) throws(CanonicalJSONError) {
        throw .nonCanonicalNumber(text)
    }
}

/// Numbers exactly as stored, for the compact (non-canonical) form.
enum VerbatimNumbers: JSONNumberPolicy {
    static func append(integer: Int64, to buffer: inout [UInt8]) {
        appendDecimal(integer, to: &buffer)
    }

    static func append(nonCanonicalNumber text: String, to buffer: inout [UInt8]) {
        buffer.append(contentsOf: text.utf8)
    }
}

/// Writes JSON with sorted keys, no whitespace and the canonical string escapes; `Numbers`
/// decides what happens to numbers.
enum JSONWriter<Numbers: JSONNumberPolicy> {
    static func append(_ value: JSONValue, to buffer: inout [UInt8]) throws(Numbers.Failure) {
        switch value {
        case .null: buffer.append(contentsOf: "null".utf8)
        case .bool(let flag): buffer.append(contentsOf: flag ? "true".utf8 : "false".utf8)
        case .integer(let integer): try Numbers.append(integer: integer, to: &buffer)
        case .nonCanonicalNumber(let text): try Numbers.append(nonCanonicalNumber: text, to: &buffer)
        case .string(let string): appendString(string, to: &buffer)
        case .array(let elements):
            buffer.append(UInt8(ascii: "["))
            for (position, element) in elements.enumerated() {
                if position > 0 { buffer.append(UInt8(ascii: ",")) }
                try append(element, to: &buffer)
            }
            buffer.append(UInt8(ascii: "]"))
        case .object(let object): try append(object: object, to: &buffer)
        }
    }

    /// Members are already in canonical order: ``JSONObject`` keeps them sorted by key bytes.
    static func append(object: JSONObject, to buffer: inout [UInt8]) throws(Numbers.Failure) {
        buffer.append(UInt8(ascii: "{"))
        for (position, member) in object.members.enumerated() {
            if position > 0 { buffer.append(UInt8(ascii: ",")) }
            appendString(member.key, to: &buffer)
            buffer.append(UInt8(ascii: ":"))
            try append(member.value, to: &buffer)
        }
        buffer.append(UInt8(ascii: "}"))
    }

    static func appendString(_ string: String, to buffer: inout [UInt8]) {
        buffer.append(UInt8(ascii: "\""))
        let done: Void? = string.utf8.withContiguousStorageIfAvailable { appendEscaped($0, to: &buffer) }
        if done == nil {
            Array(string.utf8).withUnsafeBufferPointer { appendEscaped($0, to: &buffer) }
        }
        buffer.append(UInt8(ascii: "\""))
    }

    /// Copies UTF-8 text, escaping `"`, `\` and U+0000–U+001F exactly as canonical JSON wants.
    private static func appendEscaped(_ text: UnsafeBufferPointer<UInt8>, to buffer: inout [UInt8]) {
        var runStart = 0
        var position = JSONByteScan.nextEscaped(in: text, from: 0)
        while position < text.count {
            let byte = text[position]
            buffer.append(contentsOf: UnsafeBufferPointer(rebasing: text[runStart..<position]))
            position += 1
            runStart = position
            buffer.append(UInt8(ascii: "\\"))
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"): buffer.append(byte)
            case 0x08: buffer.append(UInt8(ascii: "b"))
            case 0x09: buffer.append(UInt8(ascii: "t"))
            case 0x0A: buffer.append(UInt8(ascii: "n"))
            case 0x0C: buffer.append(UInt8(ascii: "f"))
            case 0x0D: buffer.append(UInt8(ascii: "r"))
            default:
                let hexDigits: StaticString = "0123456789abcdef"
                buffer.append(contentsOf: "u00".utf8)
                hexDigits.withUTF8Buffer { hex in
                    buffer.append(hex[Int(byte >> 4)])
                    buffer.append(hex[Int(byte & 0x0F)])
                }
            }
            position = JSONByteScan.nextEscaped(in: text, from: position)
        }
        buffer.append(contentsOf: UnsafeBufferPointer(rebasing: text[runStart...]))
    }
}
