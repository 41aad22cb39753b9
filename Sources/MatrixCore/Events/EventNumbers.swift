/// The room-version rule for numbers inside events, and the encoded size of an event.
///
/// Every version refuses numbers written with a fraction or an exponent (they cannot be hashed
/// portably; the worker's contract refuses them everywhere). Versions with strict canonical JSON
/// (v6+) also refuse integers outside ±(2^53 − 1); older versions keep such integers exactly.
public enum EventNumbers {
    /// The first number in `object` (depth first, in key order) that is not allowed: with
    /// `strict` (``RoomVersion/strictCanonicalJSON``) any non-canonical number, else only
    /// numbers with a fraction or exponent.
    public static func firstViolation(in object: JSONObject, strict: Bool) -> PDUError? {
        var scan = EventScan(strict: strict)
        _ = scan.length(of: object)
        return scan.violation
    }
}

/// One walk over an event that finds the first disallowed number and measures the length of
/// its compact encoding (the canonical length, for events whose numbers are allowed), without
/// building the bytes.
struct EventScan {
    let strict: Bool
    private(set) var violation: PDUError?

    init(strict: Bool) {
        self.strict = strict
    }

    /// The encoded length of `object` without its top-level member `skipping`.
    mutating func length(of object: JSONObject, skipping skipped: String? = nil) -> Int {
        var total = 2
        var count = 0
        for member in object.members {
            let memberLength = length(ofString: member.key) + 1 + length(of: member.value)
            if let skipped, member.key.bytesEqual(skipped) { continue }
            total += memberLength
            count += 1
        }
        return total + max(count - 1, 0)
    }

    private mutating func length(of value: JSONValue) -> Int {
        switch value {
        case .null: return 4
        case .bool(let flag): return flag ? 4 : 5
        case .string(let string): return length(ofString: string)
        case .integer(let integer):
            if strict, violation == nil, integer.magnitude > JSONValue.maxCanonicalInteger.magnitude {
                violation = .integerOutOfRange(String(integer))
            }
            return EventScan.decimalLength(integer)
        case .nonCanonicalNumber(let text):
            if violation == nil {
                if text.utf8.contains(where: { $0 == UInt8(ascii: ".") || $0 | 0x20 == UInt8(ascii: "e") }) {
                    violation = .nonIntegerNumber(text)
                } else if strict {
                    violation = .integerOutOfRange(text)
                }
            }
            return text.utf8.count
        case .array(let elements):
            var total = 2 + max(elements.count - 1, 0)
            for element in elements { total += length(of: element) }
            return total
        case .object(let object):
            return length(of: object)
        }
    }

    /// Quotes, the UTF-8 bytes, and the escapes canonical JSON writes: `\"`, `\\`, `\b`, `\t`,
    /// `\n`, `\f`, `\r` (one extra byte) and `\u00XX` for other control characters (five extra).
    private func length(ofString string: String) -> Int {
        let counted = string.utf8.withContiguousStorageIfAvailable(EventScan.escapedLength)
        return 2 + (counted ?? Array(string.utf8).withUnsafeBufferPointer(EventScan.escapedLength))
    }

    private static func escapedLength(_ text: UnsafeBufferPointer<UInt8>) -> Int {
        var total = text.count
        var position = JSONByteScan.nextEscaped(in: text, from: 0)
        while position < text.count {
            let byte = text[position]
            total += byte >= 0x20 || (byte >= 0x08 && byte <= 0x0D && byte != 0x0B) ? 1 : 5
            position = JSONByteScan.nextEscaped(in: text, from: position + 1)
        }
        return total
    }

    private static func decimalLength(_ integer: Int64) -> Int {
        var digits = 1
        var remaining = integer.magnitude
        while remaining >= 10 {
            remaining /= 10
            digits += 1
        }
        return integer < 0 ? digits + 1 : digits
    }
}
