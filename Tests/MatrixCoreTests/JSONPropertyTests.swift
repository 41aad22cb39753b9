import MatrixCore
import XCTest

/// Properties checked on many generated values and byte strings (fixed seeds, so failures
/// reproduce).
final class JSONPropertyTests: XCTestCase {
    func testCanonicalEncodingRoundTripsAndIsIdempotent() throws {
        var generator = JSONValueGenerator(seed: 0x5EED_0001)
        for _ in 0..<2_000 {
            let value = generator.value(depth: 4, canonicalOnly: true)
            let encoded = try value.canonicalBytes()
            let reparsed = try JSONParser.parse(encoded)
            XCTAssertEqual(reparsed, value)
            XCTAssertEqual(try reparsed.canonicalBytes(), encoded)
        }
    }

    func testCompactEncodingRoundTripsAnyNumber() throws {
        var generator = JSONValueGenerator(seed: 0x5EED_0002)
        for _ in 0..<2_000 {
            let value = generator.value(depth: 4, canonicalOnly: false)
            let encoded = value.compactBytes()
            let reparsed = try JSONParser.parse(encoded)
            XCTAssertEqual(reparsed, value)
            XCTAssertEqual(reparsed.compactBytes(), encoded)
            XCTAssertEqual(try? reparsed.canonicalBytes(), value.isCanonicalCompatible ? encoded : nil)
        }
    }

    /// The parser and writer skip plain text eight bytes at a time: a special byte must be found
    /// at every offset within and across those words.
    func testSpecialCharactersAtEveryPositionOfLongStrings() throws {
        for length in [7, 8, 9, 16, 17, 31] {
            for position in 0..<length {
                for special: Unicode.Scalar in ["\"", "\\", "\u{0}", "\u{1F}", "\u{7F}", "\u{e9}", "\u{1F600}"] {
                    let text = String(repeating: "a", count: position) + String(special)
                        + String(repeating: "a", count: length - position - 1)
                    let value = JSONValue.string(text)
                    let encoded = try value.canonicalBytes()
                    XCTAssertEqual(try JSONParser.parse(encoded), value)
                    XCTAssertEqual(encoded.count, length + 2 + Self.extraCanonicalBytes(special))
                }
                var raw = [UInt8](repeating: UInt8(ascii: "a"), count: length + 2)
                raw[0] = UInt8(ascii: "\"")
                raw[length + 1] = UInt8(ascii: "\"")
                raw[position + 1] = 0x0A
                XCTAssertThrowsError(try JSONParser.parse(raw)) { error in
                    XCTAssertEqual(error as? JSONParseError,
                                   .syntax(offset: position + 1, reason: "unescaped control character in string"))
                }
                raw[position + 1] = 0xC0
                XCTAssertThrowsError(try JSONParser.parse(raw)) { error in
                    XCTAssertEqual(error as? JSONParseError, .invalidUTF8(offset: position + 1))
                }
            }
        }
    }

    /// Bytes the canonical form of `scalar` takes beyond one.
    private static func extraCanonicalBytes(_ scalar: Unicode.Scalar) -> Int {
        switch scalar {
        case "\"", "\\": return 1
        case "\u{0}", "\u{1F}": return 5
        default: return scalar.utf8.count - 1
        }
    }

    func testRandomBytesNeverCrashTheParser() {
        var random = SplitMix64(seed: 0x5EED_0003)
        let alphabet = Array(#"{}[]",:\u0123456789-+.eEtrufalsn "#.utf8) + [0x00, 0x1F, 0x7F, 0x80, 0xC3, 0xA9, 0xED, 0xF0, 0xFF]
        for round in 0..<20_000 {
            let length = Int(random.next() % 48)
            let bytes: [UInt8] = (0..<length).map { _ in
                round.isMultiple(of: 2) ? alphabet[Int(random.next() % UInt64(alphabet.count))] : UInt8(truncatingIfNeeded: random.next())
            }
            checkParsesOrRefuses(bytes)
        }
    }

    func testMutatedDocumentsNeverCrashTheParser() throws {
        var generator = JSONValueGenerator(seed: 0x5EED_0004)
        var random = SplitMix64(seed: 0x5EED_0005)
        for _ in 0..<3_000 {
            var bytes = generator.value(depth: 4, canonicalOnly: false).compactBytes()
            for _ in 0...Int(random.next() % 3) {
                let position = Int(random.next() % UInt64(bytes.count + 1))
                let byte = UInt8(truncatingIfNeeded: random.next())
                switch random.next() % 3 {
                case 0: bytes.insert(byte, at: position)
                case 1 where position < bytes.count: bytes.remove(at: position)
                default: if position < bytes.count { bytes[position] = byte }
                }
            }
            checkParsesOrRefuses(bytes)
        }
    }

    /// Parsing either fails with a typed error or yields a value whose compact form parses back to it.
    private func checkParsesOrRefuses(_ bytes: [UInt8]) {
        let parsed: JSONValue
        do {
            parsed = try JSONParser.parse(bytes)
        } catch {
            return
        }
        XCTAssertEqual(try? JSONParser.parse(parsed.compactBytes()), parsed, "\(bytes)")
    }
}

/// A small seeded pseudo-random generator (SplitMix64), so that generated cases are reproducible.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var mixed = state
        mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
        mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
        return mixed ^ (mixed >> 31)
    }
}

/// Random JSON values drawn from the awkward corners: escapes, controls, non-BMP text,
/// NFC/NFD look-alike keys, integer bounds and (when allowed) non-canonical numbers.
struct JSONValueGenerator {
    private var random: SplitMix64
    private static let scalars: [Unicode.Scalar] = [
        "a", "z", "A", "0", " ", "\"", "\\", "/", "\u{0}", "\u{8}", "\u{1F}", "\u{7F}", "\u{e9}", "e", "\u{301}",
        "\u{2028}", "\u{FB01}", "\u{FEFF}", "\u{FFFF}", "\u{65e5}", "\u{1F600}", "\u{10FFFF}",
    ]
    private static let nonCanonicalNumbers = ["1.5", "-0.0", "2.0", "1e10", "-3.25E-7", "9223372036854775808",
                                              "123456789012345678901234567890"]

    init(seed: UInt64) { random = SplitMix64(seed: seed) }

    mutating func value(depth: Int, canonicalOnly: Bool) -> JSONValue {
        switch random.next() % (depth > 0 ? 9 : 6) {
        case 0: return .null
        case 1: return .bool(random.next() % 2 == 0)
        case 2: return .integer(integer(canonicalOnly: canonicalOnly))
        case 3:
            if canonicalOnly { return .integer(integer(canonicalOnly: true)) }
            return .nonCanonicalNumber(Self.nonCanonicalNumbers.randomElement(using: &random) ?? "1.5")
        case 4, 5: return .string(string())
        case 6: return .array((0..<Int(random.next() % 5)).map { _ in value(depth: depth - 1, canonicalOnly: canonicalOnly) })
        default:
            var object = JSONObject()
            for _ in 0..<Int(random.next() % 6) { object[string()] = value(depth: depth - 1, canonicalOnly: canonicalOnly) }
            return .object(object)
        }
    }

    private mutating func integer(canonicalOnly: Bool) -> Int64 {
        let limit = JSONValue.maxCanonicalInteger
        let interesting: [Int64] = canonicalOnly ? [0, 1, -1, limit, -limit] : [0, -1, limit + 1, .max, .min]
        if random.next() % 3 == 0 { return interesting.randomElement(using: &random) ?? 0 }
        return canonicalOnly ? Int64.random(in: -limit...limit, using: &random) : Int64(bitPattern: random.next())
    }

    private mutating func string() -> String {
        var text = String.UnicodeScalarView()
        for _ in 0..<Int(random.next() % 7) { text.append(Self.scalars.randomElement(using: &random) ?? "a") }
        return String(text)
    }
}
