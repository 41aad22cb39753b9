/// The room-version rule for numbers inside events.
///
/// Every version refuses numbers written with a fraction or an exponent (they cannot be hashed
/// portably; the worker's contract refuses them everywhere). Versions with strict canonical JSON
/// (v6+) also refuse integers outside ±(2^53 − 1); older versions keep such integers exactly.
public enum EventNumbers {
    /// The first number in `object` (depth first, in key order) that is not allowed: with
    /// `strict` (``RoomVersion/strictCanonicalJSON``) any non-canonical number, else only
    /// numbers with a fraction or exponent.
    public static func firstViolation(in object: JSONObject, strict: Bool) -> PDUError? {
        for member in object.members {
            if let violation = firstViolation(in: member.value, strict: strict) { return violation }
        }
        return nil
    }

    private static func firstViolation(in value: JSONValue, strict: Bool) -> PDUError? {
        switch value {
        case .null, .bool, .string:
            return nil
        case .integer(let integer):
            let inRange = integer >= -JSONValue.maxCanonicalInteger && integer <= JSONValue.maxCanonicalInteger
            return strict && !inRange ? .integerOutOfRange(String(integer)) : nil
        case .nonCanonicalNumber(let text):
            if text.utf8.contains(where: { $0 == UInt8(ascii: ".") || $0 | 0x20 == UInt8(ascii: "e") }) {
                return .nonIntegerNumber(text)
            }
            return strict ? .integerOutOfRange(text) : nil
        case .array(let elements):
            for element in elements {
                if let violation = firstViolation(in: element, strict: strict) { return violation }
            }
            return nil
        case .object(let object):
            return firstViolation(in: object, strict: strict)
        }
    }
}
