/// Strings, numbers and literals: the leaves of the JSON grammar.
extension JSONByteParser {
    /// Parses the string starting at the opening quote at `index`.
    ///
    /// Strings without escapes are decoded straight from the input; escapes send the text
    /// through `scratch`. Raw non-ASCII bytes are checked to be well-formed UTF-8.
    mutating func parseString() throws(JSONParseError) -> String {
        index += 1
        var runStart = index
        var usesScratch = false
        while index < input.count {
            if input.count - index >= JSONByteScan.wordSize {
                let word = JSONByteScan.word(at: index, in: input)
                let mask = JSONByteScan.quoteBackslashOrControlMask(word) | JSONByteScan.nonASCIIMask(word)
                index += JSONByteScan.firstMarkedByte(mask)
                if mask == 0 { continue }
            }
            let byte = input[index]
            if byte == UInt8(ascii: "\"") {
                let run = UnsafeBufferPointer(rebasing: input[runStart..<index])
                index += 1
                if !usesScratch { return String(decoding: run, as: UTF8.self) }
                scratch.append(contentsOf: run)
                return String(decoding: scratch, as: UTF8.self)
            } else if byte == UInt8(ascii: "\\") {
                if !usesScratch {
                    scratch.removeAll(keepingCapacity: true)
                    usesScratch = true
                }
                scratch.append(contentsOf: UnsafeBufferPointer(rebasing: input[runStart..<index]))
                try appendEscape()
                runStart = index
            } else if byte < 0x20 {
                throw syntaxError("unescaped control character in string")
            } else if byte < 0x80 {
                index += 1
            } else {
                try skipUTF8Sequence()
            }
        }
        throw syntaxError("unterminated string")
    }

    /// Decodes the escape at `index` (a backslash) into `scratch`.
    private mutating func appendEscape() throws(JSONParseError) {
        let escapeStart = index
        index += 1
        guard index < input.count else { throw syntaxError("unterminated string") }
        let letter = input[index]
        index += 1
        switch letter {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): scratch.append(letter)
        case UInt8(ascii: "b"): scratch.append(0x08)
        case UInt8(ascii: "f"): scratch.append(0x0C)
        case UInt8(ascii: "n"): scratch.append(0x0A)
        case UInt8(ascii: "r"): scratch.append(0x0D)
        case UInt8(ascii: "t"): scratch.append(0x09)
        case UInt8(ascii: "u"):
            let unit = try parseHex4()
            switch unit {
            case 0xD800...0xDBFF:
                guard index + 1 < input.count, input[index] == UInt8(ascii: "\\"), input[index + 1] == UInt8(ascii: "u")
                else { throw .loneSurrogate(offset: escapeStart) }
                index += 2
                let low = try parseHex4()
                guard (0xDC00...0xDFFF).contains(low) else { throw .loneSurrogate(offset: escapeStart) }
                appendUTF8(scalar: 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00))
            case 0xDC00...0xDFFF:
                throw .loneSurrogate(offset: escapeStart)
            default:
                appendUTF8(scalar: unit)
            }
        default:
            throw syntaxError("invalid escape", at: escapeStart)
        }
    }

    /// Reads the four hex digits of a `\u` escape.
    private mutating func parseHex4() throws(JSONParseError) -> UInt32 {
        guard input.count - index >= 4 else { throw syntaxError("truncated \\u escape") }
        var unit: UInt32 = 0
        for _ in 0..<4 {
            let byte = input[index]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw syntaxError("invalid hex digit in \\u escape")
            }
            unit = unit << 4 | UInt32(digit)
            index += 1
        }
        return unit
    }

    /// Appends the UTF-8 form of a scalar value (never a surrogate, at most U+10FFFF).
    private mutating func appendUTF8(scalar: UInt32) {
        switch scalar {
        case 0..<0x80:
            scratch.append(UInt8(scalar))
        case 0x80..<0x800:
            scratch.append(UInt8(0xC0 | scalar >> 6))
            scratch.append(UInt8(0x80 | scalar & 0x3F))
        case 0x800..<0x10000:
            scratch.append(UInt8(0xE0 | scalar >> 12))
            scratch.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            scratch.append(UInt8(0x80 | scalar & 0x3F))
        default:
            scratch.append(UInt8(0xF0 | scalar >> 18))
            scratch.append(UInt8(0x80 | scalar >> 12 & 0x3F))
            scratch.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            scratch.append(UInt8(0x80 | scalar & 0x3F))
        }
    }

    /// Steps over one well-formed multi-byte UTF-8 sequence (Unicode Table 3-7: no overlong
    /// forms, no surrogates, nothing above U+10FFFF) starting at `index`.
    private mutating func skipUTF8Sequence() throws(JSONParseError) {
        let start = index
        let lead = input[index]
        let continuationCount: Int
        var secondRange: ClosedRange<UInt8> = 0x80...0xBF
        switch lead {
        case 0xC2...0xDF: continuationCount = 1
        case 0xE0: continuationCount = 2; secondRange = 0xA0...0xBF
        case 0xE1...0xEC, 0xEE...0xEF: continuationCount = 2
        case 0xED: continuationCount = 2; secondRange = 0x80...0x9F
        case 0xF0: continuationCount = 3; secondRange = 0x90...0xBF
        case 0xF1...0xF3: continuationCount = 3
        case 0xF4: continuationCount = 3; secondRange = 0x80...0x8F
        default: throw .invalidUTF8(offset: start)
        }
        guard input.count - start > continuationCount, secondRange.contains(input[start + 1]) else {
            throw .invalidUTF8(offset: start)
        }
        var position = start + 2
        while position <= start + continuationCount {
            guard (0x80...0xBF).contains(input[position]) else { throw .invalidUTF8(offset: start) }
            position += 1
        }
        index = position
    }

    /// Parses a number. Integer literals that fit `Int64` become `.integer`; anything with a
    /// fraction or exponent, or too large, keeps its text as `.nonCanonicalNumber`.
    mutating func parseNumber() throws(JSONParseError) -> JSONValue {
        let start = index
        let negative = input[index] == UInt8(ascii: "-")
        if negative { index += 1 }
        guard index < input.count, isDigit(input[index]) else { throw syntaxError("expected a digit") }
        // Accumulated as a negative number so that Int64.min fits.
        var negatedValue: Int64 = 0
        var overflowed = false
        if input[index] == UInt8(ascii: "0") {
            index += 1
            if index < input.count, isDigit(input[index]) { throw syntaxError("leading zero in number") }
        } else {
            while index < input.count, isDigit(input[index]) {
                if !overflowed {
                    let (shifted, o1) = negatedValue.multipliedReportingOverflow(by: 10)
                    let (next, o2) = shifted.subtractingReportingOverflow(Int64(input[index] - UInt8(ascii: "0")))
                    overflowed = o1 || o2
                    negatedValue = next
                }
                index += 1
            }
        }
        var isInteger = true
        if index < input.count, input[index] == UInt8(ascii: ".") {
            isInteger = false
            index += 1
            try skipDigits(after: "'.'")
        }
        if index < input.count, input[index] | 0x20 == UInt8(ascii: "e") {
            isInteger = false
            index += 1
            if index < input.count, input[index] == UInt8(ascii: "+") || input[index] == UInt8(ascii: "-") { index += 1 }
            try skipDigits(after: "exponent")
        }
        if isInteger, !overflowed {
            if negative { return .integer(negatedValue) }
            if negatedValue != .min { return .integer(-negatedValue) }
        }
        return .nonCanonicalNumber(String(decoding: UnsafeBufferPointer(rebasing: input[start..<index]), as: UTF8.self))
    }

    private mutating func skipDigits(after what: String) throws(JSONParseError) {
        guard index < input.count, isDigit(input[index]) else { throw syntaxError("expected a digit after \(what)") }
        while index < input.count, isDigit(input[index]) { index += 1 }
    }

    private func isDigit(_ byte: UInt8) -> Bool {
        byte &- UInt8(ascii: "0") < 10
    }

    /// Steps over `true`, `false` or `null`, which must be spelled exactly.
    mutating func expectLiteral(_ literal: StaticString) throws(JSONParseError) {
        let length = literal.utf8CodeUnitCount
        guard input.count - index >= length else { throw syntaxError("unexpected character") }
        let matches = literal.withUTF8Buffer { expected in
            expected.indices.allSatisfy { input[index + $0] == expected[$0] }
        }
        guard matches else { throw syntaxError("unexpected character") }
        index += length
    }
}
