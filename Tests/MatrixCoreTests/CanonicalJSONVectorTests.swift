import MatrixCore
import TestSupport
import XCTest

/// Every case of `Tests/Vectors/canonical-json.json`.
final class CanonicalJSONVectorTests: XCTestCase {
    private func vectorGroup(_ name: String) throws -> [JSONObject] {
        let file = try JSONParser.parse(try Vectors.bytes("canonical-json"))
        let group = try XCTUnwrap(file[name]?.arrayValue, "missing group \(name)")
        XCTAssertFalse(group.isEmpty)
        return try group.map { try XCTUnwrap($0.objectValue) }
    }

    private func field(_ name: String, of vector: JSONObject) throws -> String {
        try XCTUnwrap(vector[name]?.stringValue, "vector without \(name)")
    }

    func testCasesEncodeToTheExactBytes() throws {
        for vector in try vectorGroup("cases") {
            let description = try field("description", of: vector)
            let value = try JSONParser.parse(try field("input", of: vector))
            let expected = try XCTUnwrap(bytes(fromHex: try field("output_utf8_hex", of: vector)))
            XCTAssertEqual(try value.canonicalBytes(), expected, description)
            XCTAssertEqual(try value.canonicalString(), try field("output", of: vector), description)
        }
    }

    func testMustRejectCasesParseButHaveNoCanonicalForm() throws {
        for vector in try vectorGroup("must_reject") {
            let description = try field("description", of: vector)
            let value = try JSONParser.parse(try field("input", of: vector))
            XCTAssertFalse(value.isCanonicalCompatible, description)
            XCTAssertThrowsError(try value.canonicalBytes(), description) { error in
                guard case CanonicalJSONError.nonCanonicalNumber = error else {
                    return XCTFail("\(description): unexpected \(error)")
                }
            }
        }
    }

    func testUnparseableCasesAreRefused() throws {
        for vector in try vectorGroup("unparseable") {
            let description = try field("description", of: vector)
            XCTAssertThrowsError(try JSONParser.parse(try field("input", of: vector)), description) { error in
                XCTAssertTrue(error is JSONParseError, "\(description): unexpected \(error)")
            }
        }
    }
}

/// The bytes written as hex in a vector file; `nil` if `hex` is not an even run of hex digits.
func bytes(fromHex hex: String) -> [UInt8]? {
    let digits = Array(hex.utf8)
    guard digits.count.isMultiple(of: 2) else { return nil }
    var result: [UInt8] = []
    result.reserveCapacity(digits.count / 2)
    for pairStart in stride(from: 0, to: digits.count, by: 2) {
        guard let pair = UInt8(String(decoding: digits[pairStart...pairStart + 1], as: UTF8.self), radix: 16)
        else { return nil }
        result.append(pair)
    }
    return result
}
