import MatrixCore
import XCTest

final class IdentifierServerNameTests: XCTestCase {
    func testSpecExamples() throws {
        let cases: [(String, host: String, port: Int?, ip: Bool)] = [
            ("matrix.org", "matrix.org", nil, false), ("matrix.org:8888", "matrix.org", 8888, false),
            ("1.2.3.4", "1.2.3.4", nil, true), ("1.2.3.4:1234", "1.2.3.4", 1234, true),
            ("[1234:5678::abcd]", "[1234:5678::abcd]", nil, true),
            ("[1234:5678::abcd]:5678", "[1234:5678::abcd]", 5678, true),
        ]
        for (text, host, port, ip) in cases {
            let name = try XCTUnwrap(ServerName(text), text)
            XCTAssertEqual(name.text, text)
            XCTAssertEqual(name.description, text)
            XCTAssertEqual(name.host, host, text)
            XCTAssertEqual(name.port, port, text)
            XCTAssertEqual(name.isIPLiteral, ip, text)
        }
    }

    func testValidNames() {
        for text in ["localhost", "a", "resident.test", "MATRIX.org", "x-y.example-1.com", "123.example", "1.2.3",
                     "1.2.3.4.5", "0.0.0.0", "255.255.255.255", "example.com:1", "example.com:65535", "example.com:080",
                     "[::]", "[::1]", "[1:2:3:4:5:6:7:8]", "[1::8]", "[1:2:3:4:5:6::8]", "[::ffff:1.2.3.4]",
                     "[64:ff9b::192.0.2.33]", "[1:2:3:4:5:6:1.2.3.4]", "[fe80::]:8448", "[ABCD:ef01::]",
                     // A four-digit group is no dotted quad, so these are DNS names (Synapse's rule).
                     "1.2.3.1234", "1234.1.1.1", "01.02.003.4", "1.2.3.4:8448",
                     String(repeating: "a", count: 255)] {
            XCTAssertNotNil(ServerName(text), text)
        }
    }

    func testInvalidNames() {
        for text in ["", ":8448", "example.com:", "example.com:0", "example.com:65536", "example.com:123456",
                     "example.com:-1", "example.com:+80", "example.com:8a", "example.com:80:80", "example.com.",
                     ".example.com", "exa..mple", "under_score.com", "sp ace.com", "ex\u{e9}.com", "example.com/",
                     "@user:example.com", "1.2.3.256", "256.1.1.1", "1.2.3.999:80", "1.2.3.4:99999", "[]", "[:]",
                     "[1234:5678::abcd", "1234:5678::abcd", "[1:2:3:4:5:6:7:8:9]", "[1:2:3:4:5:6:7]", "[1::2::3]",
                     "[:::]", "[1:::2]", "[12345::]", "[g::]", "[1.2.3.4]", "[1.2.3.4::]", "[::1.2.3]",
                     "[::1.2.3.256]", "[1:2:3:4:5:6:7:1.2.3.4]", "[fe80::1%eth0]", "[::1]x", "[::1]:", "[::1]:0",
                     "999.1.1.1", "1.2.3.4.", ".1.2.3", "1..2.3", "1.2.3.4_",
                     String(repeating: "a", count: 256)] {
            XCTAssertNil(ServerName(text), text)
        }
    }

    func testNamesAreCaseSensitive() {
        XCTAssertNotEqual(ServerName("matrix.org"), ServerName("MATRIX.ORG"))
        XCTAssertEqual(ServerName("matrix.org:8448"), ServerName("matrix.org:8448"))
    }
}
