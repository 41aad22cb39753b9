import MatrixCore

/// A reproducible random source (SplitMix64) that also builds random JSON for property tests.
struct SeededRandom: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Characters worth mixing: ASCII, escapes, quotes, non-ASCII, astral, combining marks.
    private static let alphabet: [Unicode.Scalar] = ["a", "Z", "0", " ", "\"", "\\", "/", "\u{0}", "\u{1F}", "\n", "\u{7F}",
                                                     "é", "e", "\u{301}", "日", "\u{2028}", "😀", "\u{FB01}", ":", "$"]

    mutating func string(maxLength: Int = 8) -> String {
        var result = String.UnicodeScalarView()
        for _ in 0..<Int.random(in: 0...maxLength, using: &self) {
            result.append(Self.alphabet.randomElement(using: &self) ?? "a")
        }
        return String(result)
    }

    mutating func value(depth: Int) -> JSONValue {
        switch Int.random(in: 0..<(depth > 0 ? 7 : 5), using: &self) {
        case 0: return .null
        case 1: return .bool(Bool.random(using: &self))
        case 2: return .integer(Int64.random(in: -JSONValue.maxCanonicalInteger...JSONValue.maxCanonicalInteger, using: &self))
        case 3, 4: return .string(string())
        case 5: return .array((0..<Int.random(in: 0...3, using: &self)).map { _ in value(depth: depth - 1) })
        default: return .object(object(depth: depth - 1))
        }
    }

    /// A random object without top-level `signatures` or `unsigned`.
    mutating func object(depth: Int) -> JSONObject {
        var object = JSONObject()
        for _ in 0..<Int.random(in: 0...5, using: &self) {
            object[string(maxLength: 4)] = value(depth: depth)
        }
        return object.removing("signatures", "unsigned")
    }

    /// `value` with one character of one string (a member key or a string value) replaced by a
    /// different one, or one integer changed by one; `nil` if it holds neither.
    mutating func changingOneCharacter(in value: JSONValue) -> JSONValue? {
        switch value {
        case .null, .bool, .nonCanonicalNumber: return nil
        case .integer(let integer): return .integer(integer == 0 ? 1 : integer - integer.signum())
        case .string(let text): return changingOneCharacter(in: text).map(JSONValue.string)
        case .array(var elements):
            for index in elements.indices.shuffled(using: &self) {
                if let changed = changingOneCharacter(in: elements[index]) {
                    elements[index] = changed
                    return .array(elements)
                }
            }
            return nil
        case .object(var object):
            for member in object.members.shuffled(using: &self) {
                if Bool.random(using: &self), let newKey = changingOneCharacter(in: member.key), object[newKey] == nil {
                    object[member.key] = nil
                    object[newKey] = member.value
                    return .object(object)
                }
                if let changed = changingOneCharacter(in: member.value) {
                    object[member.key] = changed
                    return .object(object)
                }
            }
            return nil
        }
    }

    private mutating func changingOneCharacter(in text: String) -> String? {
        var scalars = Array(text.unicodeScalars)
        guard let index = scalars.indices.randomElement(using: &self) else { return nil }
        let replacement = Self.alphabet.filter { $0 != scalars[index] }.randomElement(using: &self) ?? "a"
        scalars[index] = replacement
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars)
        return String(view)
    }
}
