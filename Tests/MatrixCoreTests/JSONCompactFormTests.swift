import MatrixCore
import XCTest

/// `JSONCompactForm` says "already compact" only where parsing and writing give the same bytes,
/// and says it for the compact form of every object it can.
final class JSONCompactFormTests: XCTestCase {
    func testTheCompactFormOfGeneratedObjectsIsRecognised() throws {
        var generator = JSONValueGenerator(seed: 0x5EED_0C01)
        var recognised = 0
        for _ in 0..<3_000 {
            var object = JSONObject()
            for index in 0..<3 { object["k\(index)"] = generator.value(depth: 4, canonicalOnly: false) }
            let value = JSONValue.object(object)
            let compact = value.compactBytes()
            let expected = value.firstNonInt64Number == nil && !Self.hasKeyNeedingEscape(value)
            XCTAssertEqual(JSONCompactForm.isCompact(compact), expected, String(decoding: compact, as: UTF8.self))
            if expected { recognised += 1 }
        }
        XCTAssertGreaterThan(recognised, 300, "the generator should produce many recognisable objects")
    }

    func testWhatItTakesParsesAndWritesBackToTheSameBytes() throws {
        var generator = JSONValueGenerator(seed: 0x5EED_0C02)
        var random = SplitMix64(seed: 0x5EED_0C03)
        var taken = 0
        for _ in 0..<20_000 {
            var bytes = JSONValue.object(["a": generator.value(depth: 3, canonicalOnly: false), "b": .integer(1)]).compactBytes()
            for _ in 0...Int(random.next() % 2) {
                let position = Int(random.next() % UInt64(bytes.count + 1))
                let byte = Self.mutationBytes[Int(random.next() % UInt64(Self.mutationBytes.count))]
                switch random.next() % 3 {
                case 0: bytes.insert(byte, at: position)
                case 1 where position < bytes.count: bytes.remove(at: position)
                default: if position < bytes.count { bytes[position] = byte }
                }
            }
            guard JSONCompactForm.isCompact(bytes) else { continue }
            taken += 1
            let value = try JSONParser.parse(bytes)
            XCTAssertNotNil(value.objectValue)
            XCTAssertNil(value.firstNonInt64Number)
            XCTAssertEqual(value.compactBytes(), bytes, String(decoding: bytes, as: UTF8.self))
        }
        XCTAssertGreaterThan(taken, 1_000, "some mutations should stay compact")
    }

    func testCompactObjectsAreTakenAsTheyAre() {
        for text in [
            #"{}"#,
            #"{"":0,"a":[],"b":{}}"#,
            #"{"a":-9223372036854775808,"b":9223372036854775807,"c":0,"d":-1}"#,
            #"{"a":true,"b":false,"c":null,"d":[1,"x",[{}]]}"#,
            #"{"s":"\"\\\b\t\n\f\r\u0000\u001f\u000b"}"#,
            "{\"s\":\"\u{7F}\u{e9}\u{65e5}\u{1F600}\"}",
            "{\"a\":1,\"\u{e9}\":2,\"\u{1F600}\":3}",
            #"{"content":{"membership":"leave"},"depth":12,"room_id":"!r:x","sender":"@u:x","type":"m.room.member"}"#,
        ] {
            XCTAssertTrue(JSONCompactForm.isCompact(Array(text.utf8)), text)
            XCTAssertEqual(try JSONParser.parse(text).compactBytes(), Array(text.utf8), text)
        }
    }

    func testAnythingTheWriterWouldWriteOtherwiseIsNot() {
        for text in [
            #"[]"#, #""a""#, #"1"#, #" {}"#, #"{} "#, #"{"a": 1}"#, #"{"a":1 }"#, "{\n}",
            #"{"b":1,"a":2}"#, #"{"a":1,"a":2}"#,
            #"{"a":-0}"#, #"{"a":01}"#, #"{"a":1.0}"#, #"{"a":1e5}"#, #"{"a":1E5}"#, #"{"a":+1}"#,
            #"{"a":9223372036854775808}"#, #"{"a":-9223372036854775809}"#, #"{"a":12345678901234567890}"#,
            #"{"a":"\/"}"#, #"{"a":"\u0008"}"#, #"{"a":"\u000A"}"#, #"{"a":"\u001F"}"#, #"{"a":"\u0041"}"#,
            #"{"a":"\u00e9"}"#, #"{"a":"\ud83d\ude00"}"#, #"{"a\"b":1}"#, #"{"a\u0000":1}"#,
            #"{"a":tru}"#, #"{"a":truee}"#, #"{"a":nul}"#, #"{"a":1"#, #"{"a":"x}"#, #"{"a":1}}"#, #"{"a":1},"#,
            #"{"a":[1,]}"#, #"{"a":[,1]}"#, #"{"a":,}"#, #"{,"a":1}"#, #"{"a"1}"#,
        ] {
            XCTAssertFalse(JSONCompactForm.isCompact(Array(text.utf8)), text)
        }
        for bytes: [UInt8] in [
            Array(#"{"a":""#.utf8) + [0xC0, 0x80] + Array(#""}"#.utf8),        // overlong
            Array(#"{"a":""#.utf8) + [0xED, 0xA0, 0x80] + Array(#""}"#.utf8),  // a surrogate
            Array(#"{"a":""#.utf8) + [0xFF] + Array(#""}"#.utf8),
            Array(#"{"a":""#.utf8) + [0x0A] + Array(#""}"#.utf8),              // a raw control
        ] {
            XCTAssertFalse(JSONCompactForm.isCompact(bytes), "\(bytes)")
        }
    }

    func testNestingAtTheParsersLimitIsLeftToTheParser() {
        func nested(_ depth: Int) -> [UInt8] {
            Array((String(repeating: #"{"a":"#, count: depth - 1) + "{}" + String(repeating: "}", count: depth - 1)).utf8)
        }
        let limit = JSONParser.Limits.default.maxDepth
        XCTAssertTrue(JSONCompactForm.isCompact(nested(limit - 1)))
        XCTAssertFalse(JSONCompactForm.isCompact(nested(limit)))
        XCTAssertFalse(JSONCompactForm.isCompact(nested(limit + 1)))
        XCTAssertThrowsError(try JSONParser.parse(nested(limit + 1)))
    }

    private static let mutationBytes: [UInt8] = Array(#"{}[]",:\u0123456789-+.eEtrufalsnb/ "#.utf8) + [0x00, 0x1F, 0x7F, 0x80, 0xC3, 0xA9, 0xED, 0xFF]

    private static func hasKeyNeedingEscape(_ value: JSONValue) -> Bool {
        switch value {
        case .object(let object):
            object.members.contains { member in
                member.key.utf8.contains { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }
                    || hasKeyNeedingEscape(member.value)
            }
        case .array(let elements): elements.contains(where: hasKeyNeedingEscape)
        case .null, .bool, .integer, .nonCanonicalNumber, .string: false
        }
    }
}
