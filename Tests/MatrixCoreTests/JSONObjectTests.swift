import MatrixCore
import XCTest

final class JSONObjectTests: XCTestCase {
    func testMembersStaySortedByUTF8Bytes() {
        var object: JSONObject = ["b": 1, "a": 2]
        object["\u{e9}"] = 3
        object["e\u{301}"] = 4
        XCTAssertEqual(object.keys.map { Array($0.utf8) }, [[0x61], [0x62], [0x65, 0xCC, 0x81], [0xC3, 0xA9]])
        XCTAssertEqual(object["\u{e9}"], 3)
        XCTAssertEqual(object["e\u{301}"], 4)
        object["a"] = nil
        XCTAssertEqual(object.count, 3)
    }

    func testValuesCompareByUTF8BytesNotUnicodeEquivalence() {
        XCTAssertNotEqual(JSONValue.string("\u{e9}"), JSONValue.string("e\u{301}"))
        XCTAssertNotEqual(JSONValue.array(["\u{e9}"]), JSONValue.array(["e\u{301}"]))
        XCTAssertNotEqual(JSONValue.object(["k": "\u{e9}"]), JSONValue.object(["k": "e\u{301}"]))
        XCTAssertNotEqual(JSONValue.nonCanonicalNumber("1.0"), JSONValue.nonCanonicalNumber("1.00"))
        XCTAssertEqual(JSONValue.object(["k": ["\u{e9}", 1, nil, true]]), JSONValue.object(["k": ["\u{e9}", 1, nil, true]]))
        XCTAssertNotEqual(JSONValue.integer(1), JSONValue.nonCanonicalNumber("1"))
        XCTAssertNotEqual(JSONValue.null, JSONValue.bool(false))
    }
}
