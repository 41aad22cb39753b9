import MatrixCrypto
import XCTest

/// The X-Matrix header grammar beyond the shared vectors: quoting, lists, duplicates, serialization.
final class XMatrixHeaderTests: XCTestCase {
    private let tail = #"key="ed25519:k",sig="c2ln""#

    private func parse(_ header: String) throws -> XMatrixAuthorization {
        try XMatrixAuthorization.parse(header)
    }

    func testQuotedValuesMayHoldCommasEscapedQuotesAndNonASCII() throws {
        let parsed = try parse(#"X-Matrix origin="o.test",key="ed25519:k",sig="a,b\"c\\d",note="é, \"x\"""#)
        XCTAssertEqual(parsed.signature, #"a,b"c\d"#)
        XCTAssertNil(parsed.destination)
    }

    func testUnquotedValuesTakeVisibleASCIIUpToTheComma() throws {
        let parsed = try parse("X-Matrix origin=[::1]:8448,key=ed25519:k,sig=ab/c+d==,destination=d.test")
        XCTAssertEqual(parsed, XMatrixAuthorization(origin: "[::1]:8448", destination: "d.test", keyID: "ed25519:k",
                                                    signature: "ab/c+d=="))
    }

    func testWhitespaceAroundEqualsAndEmptyListElementsAreAccepted() throws {
        let parsed = try parse("X-Matrix , origin = \"o.test\" ,, key\t=\ted25519:k , sig=\"c2ln\" ,")
        XCTAssertEqual(parsed, XMatrixAuthorization(origin: "o.test", destination: nil, keyID: "ed25519:k", signature: "c2ln"))
    }

    func testMalformedHeadersAreRefusedWithAReason() {
        let cases: [(String, String)] = [
            ("X-Matrix", "no space after X-Matrix"),
            ("X-Matrix\torigin=\"o.test\",\(tail)", "no space after X-Matrix"),
            ("X-Matrix ", "missing origin"),
            ("X-Matrix \(tail),origin=\"o.test", "unterminated quoted value"),
            ("X-Matrix origin=\"o.test\\", "unterminated quoted value"),
            ("X-Matrix origin=\"o.test\"x,\(tail)", "unexpected character after parameter origin"),
            ("X-Matrix origin=o.test x,\(tail)", "unexpected character after parameter origin"),
            ("X-Matrix origin=\"o\u{1}.test\",\(tail)", "control character in a quoted value"),
            ("X-Matrix origin=\"o.test\\\u{7F}\",\(tail)", "control character in a quoted value"),
            ("X-Matrix origin=,\(tail)", "parameter origin has no value"),
            ("X-Matrix origin,\(tail)", "expected '=' after parameter origin"),
            ("X-Matrix =\"o.test\",\(tail)", "expected a parameter name at offset 9"),
            ("X-Matrix origin=\"o.test\",Origin=\"o.test\",\(tail)", "parameter origin given twice"),
            ("X-Matrix origin=\"o.test\",\(tail),SIG=\"x\"", "parameter sig given twice"),
            ("X-Matrix origin=\"\",\(tail)", "origin is not a valid server name"),
            ("X-Matrix origin=\"o.test:0\",\(tail)", "origin is not a valid server name"),
            ("X-Matrix origin=\"o.test:65536\",\(tail)", "origin is not a valid server name"),
            ("X-Matrix origin=\"o.test.\",\(tail)", "origin is not a valid server name"),
            ("x-matrix origin=\"o.test\",\(tail)", "scheme is not X-Matrix"),
        ]
        for (header, reason) in cases {
            XCTAssertThrowsError(try parse(header), header) { error in
                XCTAssertEqual(error as? XMatrixError, .malformed(reason), header)
            }
        }
    }

    func testSerializationQuotesEverythingAndRoundTrips() throws {
        let authorization = XMatrixAuthorization(origin: "o.test:8448", destination: "d.test", keyID: "ed25519:k",
                                                 signature: #"we"ird\sig"#)
        XCTAssertEqual(authorization.headerValue,
                       #"X-Matrix origin="o.test:8448",destination="d.test",key="ed25519:k",sig="we\"ird\\sig""#)
        XCTAssertEqual(try parse(authorization.headerValue), authorization)
        let noDestination = XMatrixAuthorization(origin: "o.test", destination: nil, keyID: "ed25519:k", signature: "s")
        XCTAssertEqual(noDestination.headerValue, #"X-Matrix origin="o.test",key="ed25519:k",sig="s""#)
        XCTAssertEqual(try parse(noDestination.headerValue), noDestination)
    }

    func testParseAllIgnoresOtherSchemesAndChecksEveryXMatrixHeader() throws {
        let first = "X-Matrix origin=\"o.test\",key=\"ed25519:a\",sig=\"c2ln\""
        let second = "X-Matrix origin=\"o.test\",destination=\"me.test\",key=\"ed25519:b\",sig=\"c2ln\""
        let all = try XMatrixAuthorization.parseAll(headerValues: ["Basic eA==", first, second], serverName: "me.test")
        XCTAssertEqual(all.map(\.keyID), ["ed25519:a", "ed25519:b"])

        let refusals: [([String], XMatrixError)] = [
            ([], .missing),
            (["Bearer x", "x-matrix origin=o.test,key=k,sig=s"], .missing),
            ([first, "X-Matrix origin=\"p.test\",key=\"ed25519:a\",sig=\"c2ln\""],
             .malformed("X-Matrix headers name different origins")),
            ([first, "X-Matrix origin=\"o.test\",destination=\"ME.test\",key=\"k\",sig=\"s\""], .wrongDestination("ME.test")),
            ([first, "X-Matrix origin=\"o.test\",key=\"k\""], .malformed("missing sig")),
        ]
        for (headers, expected) in refusals {
            XCTAssertThrowsError(try XMatrixAuthorization.parseAll(headerValues: headers, serverName: "me.test")) { error in
                XCTAssertEqual(error as? XMatrixError, expected, "\(headers)")
            }
        }
    }

    /// `destination` is our server name byte for byte; an origin must be an (ASCII) server name.
    func testDestinationAndOriginsCompareByBytes() throws {
        let equivalent = "X-Matrix origin=\"o.test\",destination=\"\u{212A}.test\",key=\"ed25519:a\",sig=\"c2ln\""
        XCTAssertThrowsError(try XMatrixAuthorization.parseAll(headerValues: [equivalent], serverName: "K.test")) { error in
            XCTAssertEqual(error as? XMatrixError, .wrongDestination("\u{212A}.test"))
        }
        let fullwidth = "X-Matrix origin=\"o.test\",destination=\"\u{FF2B}.test\",key=\"ed25519:a\",sig=\"c2ln\""
        XCTAssertThrowsError(try XMatrixAuthorization.parseAll(headerValues: [fullwidth], serverName: "K.test"))
        let exact = "X-Matrix origin=\"o.test\",destination=\"K.test\",key=\"ed25519:a\",sig=\"c2ln\""
        XCTAssertEqual(try XMatrixAuthorization.parseAll(headerValues: [exact], serverName: "K.test").count, 1)
        XCTAssertThrowsError(try parse("X-Matrix origin=\"\u{212A}.test\",key=\"ed25519:a\",sig=\"c2ln\""))
        let twoOrigins = ["X-Matrix origin=\"K.test\",key=\"ed25519:a\",sig=\"c2ln\"",
                          "X-Matrix origin=\"k.test\",key=\"ed25519:a\",sig=\"c2ln\""]
        XCTAssertThrowsError(try XMatrixAuthorization.parseAll(headerValues: twoOrigins, serverName: "me.test"))
    }
}
