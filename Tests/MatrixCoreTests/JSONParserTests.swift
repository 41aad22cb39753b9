import MatrixCore
import XCTest

/// What the parser accepts and what it builds.
final class JSONParserTests: XCTestCase {
    func testScalarsAndContainers() throws {
        XCTAssertEqual(try JSONParser.parse("null"), .null)
        XCTAssertEqual(try JSONParser.parse(" true "), .bool(true))
        XCTAssertEqual(try JSONParser.parse("\tfalse\r\n"), .bool(false))
        XCTAssertEqual(try JSONParser.parse("\"x\""), .string("x"))
        XCTAssertEqual(try JSONParser.parse("[]"), .array([]))
        XCTAssertEqual(try JSONParser.parse("{ }"), .object(JSONObject()))
        XCTAssertEqual(try JSONParser.parse("[1, [2, {\"a\": [true]}], {}]"), [1, [2, ["a": [true]]], [:]])
        XCTAssertEqual(try JSONParser.parse("{\"b\":{\"d\":null},\"a\":[]}"), ["a": [], "b": ["d": nil]])
    }

    func testIntegersAreExactInt64() throws {
        XCTAssertEqual(try JSONParser.parse("0"), .integer(0))
        XCTAssertEqual(try JSONParser.parse("-0"), .integer(0))
        XCTAssertEqual(try JSONParser.parse("-17"), .integer(-17))
        XCTAssertEqual(try JSONParser.parse("9223372036854775807"), .integer(.max))
        XCTAssertEqual(try JSONParser.parse("-9223372036854775808"), .integer(.min))
    }

    func testFloatsAndOverflowingIntegersKeepTheirText() throws {
        for text in ["9223372036854775808", "-9223372036854775809", "123456789012345678901234567890",
                     "1.5", "-0.0", "2.0", "1e10", "1E+2", "-3.25e-7", "0e0"] {
            XCTAssertEqual(try JSONParser.parse(text), .nonCanonicalNumber(text), text)
        }
        XCTAssertEqual(try JSONParser.parse("[1.50]"), [.nonCanonicalNumber("1.50")])
    }

    func testEscapesAreDecoded() throws {
        XCTAssertEqual(try JSONParser.parse(#""\"\\\/\b\f\n\r\t""#), .string("\"\\/\u{8}\u{c}\n\r\t"))
        XCTAssertEqual(try JSONParser.parse(#""\u0000\u00e9\u00E9\u65e5""#), .string("\u{0}\u{e9}\u{e9}\u{65e5}"))
        XCTAssertEqual(try JSONParser.parse(#""a\ud83d\ude00b""#), .string("a\u{1F600}b"))
        XCTAssertEqual(try JSONParser.parse(#""\udbff\udfff""#), .string("\u{10FFFF}"))
    }

    func testRawUTF8IsKeptByteForByte() throws {
        let text = "\"\u{7f}\u{e9}e\u{301}\u{2028}\u{FFFF}\u{1F600}\u{10FFFF}\""
        let value = try JSONParser.parse(Array(text.utf8))
        XCTAssertEqual(value.stringValue.map { Array($0.utf8) }, Array(text.utf8.dropFirst().dropLast()))
    }

    func testNonContiguousInputParsesTheSame() throws {
        let text = "{\"k\": [1, \"\u{e9}\\n\", null]}"
        let lazyBytes = text.utf8.lazy.map { $0 }
        XCTAssertEqual(try JSONParser.parse(lazyBytes), try JSONParser.parse(text))
    }

    func testNFCAndNFDKeysAreDistinct() throws {
        let object = try XCTUnwrap(try JSONParser.parse("{\"\u{e9}\":1,\"e\u{301}\":2}").objectValue)
        XCTAssertEqual(object.count, 2)
        XCTAssertEqual(object["\u{e9}"], 1)
        XCTAssertEqual(object["e\u{301}"], 2)
    }

    func testDepthUpToTheLimitIsAccepted() throws {
        let limits = JSONParser.Limits(maxDepth: 5, maxBytes: 100)
        XCTAssertNoThrow(try JSONParser.parse("[[{\"a\":[[]]}]]", limits: limits))
        XCTAssertNoThrow(try JSONParser.parse(String(repeating: "[", count: 64) + String(repeating: "]", count: 64)))
    }

    func testDeepNestingNeedsNoCallStack() throws {
        let depth = 5_000
        let text = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
        var value = try JSONParser.parse(text, limits: .init(maxDepth: depth, maxBytes: 2 * depth))
        var levels = 0
        while case .array(let inner) = value, let first = inner.first {
            value = first
            levels += 1
        }
        XCTAssertEqual(levels, depth - 1)
    }

    func testSizeUpToTheLimitIsAccepted() throws {
        XCTAssertNoThrow(try JSONParser.parse("[1,2,3,4]", limits: .init(maxDepth: 4, maxBytes: 9)))
    }
}
