import MatrixCore
import TestSupport
import XCTest

final class Base64Tests: XCTestCase {
    func testSigningVectors() throws {
        let file = try JSONParser.parse(try Vectors.bytes("signing"))
        let cases = try XCTUnwrap(file["base64"]?.arrayValue)
        XCTAssertFalse(cases.isEmpty)
        for vector in cases {
            let bytes = try XCTUnwrap(vector["bytes_hex"]?.stringValue.flatMap { MatrixCoreTests.bytes(fromHex: $0) })
            let standard = try XCTUnwrap(vector["unpadded_base64"]?.stringValue)
            let urlSafe = try XCTUnwrap(vector["unpadded_urlsafe_base64"]?.stringValue)
            XCTAssertEqual(Base64.encodeUnpadded(bytes), standard)
            XCTAssertEqual(Base64.encodeUnpaddedURLSafe(bytes), urlSafe)
            XCTAssertEqual(Base64.decode(standard), bytes, standard)
            XCTAssertEqual(Base64.decode(urlSafe), bytes, urlSafe)
        }
    }

    func testEncodedLengthsForMatrixSizes() {
        XCTAssertEqual(Base64.encodeUnpadded([UInt8](repeating: 0xAB, count: 32)).utf8.count, 43)
        XCTAssertEqual(Base64.encodeUnpadded([UInt8](repeating: 0xCD, count: 64)).utf8.count, 86)
    }

    func testPaddingIsOptional() {
        XCTAssertEqual(Base64.decode("Zg=="), Array("f".utf8))
        XCTAssertEqual(Base64.decode("Zm8="), Array("fo".utf8))
        XCTAssertEqual(Base64.decode("Zm9v"), Array("foo".utf8))
        XCTAssertEqual(Base64.decode(""), [])
    }

    func testAlphabetsMayBeMixed() {
        XCTAssertEqual(Base64.decode("+_8"), [0xFB, 0xFF])
    }

    func testBadInputIsRefused() {
        for text in ["Z", "Zm9vY", "Zg=", "Zg===", "Z===", "Zm8==", "=", "==", "Zg==Zg", "Zm9v=", "Z g", "Zm9v\n", "Zm.v",
                     "Zm9v\u{e9}", "Zg=a"] {
            XCTAssertNil(Base64.decode(text), text)
        }
    }

    func testRoundTripOfEveryLengthAndByte() {
        var random = SplitMix64(seed: 0xBA5E_64)
        for length in 0..<200 {
            let bytes = (0..<length).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            XCTAssertEqual(Base64.decode(Base64.encodeUnpadded(bytes)), bytes)
            XCTAssertEqual(Base64.decode(Base64.encodeUnpaddedURLSafe(bytes)), bytes)
            XCTAssertEqual(Base64.encodeUnpadded(bytes).utf8.count, (length * 4 + 2) / 3)
        }
        let everyByte = (0...255).map { UInt8($0) }
        XCTAssertEqual(Base64.decode(Base64.encodeUnpadded(everyByte)), everyByte)
    }
}
