import MatrixCore
import XCTest

/// The canonical and compact writers on values built in code.
final class CanonicalJSONTests: XCTestCase {
    func testEveryControlCharacterUsesTheSpecEscape() throws {
        let short: [UInt8: String] = [0x08: "\\b", 0x09: "\\t", 0x0A: "\\n", 0x0C: "\\f", 0x0D: "\\r"]
        for byte in UInt8(0)..<0x20 {
            let hex = String(byte, radix: 16)
            let expected = short[byte] ?? "\\u00" + (hex.count == 1 ? "0" + hex : hex)
            let value = JSONValue.string(String(decoding: [byte], as: UTF8.self))
            XCTAssertEqual(try value.canonicalString(), "\"\(expected)\"", "byte \(byte)")
        }
        XCTAssertEqual(try JSONValue.string("\"\\/\u{7f}\u{2028}").canonicalString(), "\"\\\"\\\\/\u{7f}\u{2028}\"")
    }

    func testNonASCIIIsWrittenAsRawUTF8() throws {
        let text = "\u{e9}\u{1F600}\u{10FFFF}\u{FEFF}"
        XCTAssertEqual(try JSONValue.string(text).canonicalBytes(), [0x22] + Array(text.utf8) + [0x22])
    }

    func testIntegerRange() throws {
        let limit = JSONValue.maxCanonicalInteger
        XCTAssertEqual(try JSONValue.array([.integer(limit), .integer(-limit), 0, -1, 10]).canonicalString(),
                       "[9007199254740991,-9007199254740991,0,-1,10]")
        for integer in [limit + 1, -limit - 1, .max, .min] {
            XCTAssertThrowsError(try JSONValue.integer(integer).canonicalBytes()) { error in
                XCTAssertEqual(error as? CanonicalJSONError, .nonCanonicalNumber(String(integer)))
            }
        }
    }

    func testNonCanonicalNumbersAreRefusedAtAnyDepth() {
        let value: JSONValue = ["a": ["b": [1, .nonCanonicalNumber("2.5")]]]
        XCTAssertThrowsError(try value.canonicalBytes()) { error in
            XCTAssertEqual(error as? CanonicalJSONError, .nonCanonicalNumber("2.5"))
        }
        XCTAssertThrowsError(try value.objectValue?.canonicalBytes())
    }

    func testCompactBytesWriteNumbersAsStored() {
        let value: JSONValue = ["depth": .integer(.max), "min": .integer(.min), "pl": .nonCanonicalNumber("50.57"),
                                "s": "a\u{1}", "z": [true, false, nil]]
        let expected = #"{"depth":9223372036854775807,"min":-9223372036854775808,"pl":50.57,"s":"a\u0001","z":[true,false,null]}"#
        XCTAssertEqual(value.compactBytes(), Array(expected.utf8))
        XCTAssertEqual(value.objectValue?.compactBytes(), Array(expected.utf8))
    }

    func testObjectAndValueFormsAgree() throws {
        let object: JSONObject = ["b": ["y": 1, "x": [2]], "a": "s"]
        XCTAssertEqual(try object.canonicalBytes(), try JSONValue.object(object).canonicalBytes())
        XCTAssertEqual(try object.canonicalBytes(), Array(#"{"a":"s","b":{"x":[2],"y":1}}"#.utf8))
    }

    func testAppendCanonicalAppends() throws {
        var buffer = Array("prefix:".utf8)
        try JSONValue.array([nil, "x"]).appendCanonical(to: &buffer)
        XCTAssertEqual(String(decoding: buffer, as: UTF8.self), #"prefix:[null,"x"]"#)
    }
}
