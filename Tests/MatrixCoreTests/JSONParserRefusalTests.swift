import MatrixCore
import XCTest

/// One test per kind of input the parser must refuse, with the error it must report.
final class JSONParserRefusalTests: XCTestCase {
    private func assertRefused(_ bytes: [UInt8], limits: JSONParser.Limits = .default, file: StaticString = #filePath,
                               line: UInt = #line, _ check: (JSONParseError) -> Bool)
    {
        do {
            let value = try JSONParser.parse(bytes, limits: limits)
            XCTFail("accepted \(bytes) as \(value)", file: file, line: line)
        } catch {
            XCTAssertTrue(check(error), "\(String(decoding: bytes, as: UTF8.self)): unexpected \(error)",
                          file: file, line: line)
        }
    }

    private func assertSyntaxError(_ text: String, file: StaticString = #filePath, line: UInt = #line) {
        assertRefused(Array(text.utf8), file: file, line: line) {
            if case .syntax = $0 { return true }
            return false
        }
    }

    func testEmptyAndWhitespaceOnlyInput() {
        for text in ["", " ", "\n\t"] { assertSyntaxError(text) }
    }

    func testNaNAndInfinity() {
        for text in ["NaN", "Infinity", "-Infinity", "[nan]", "{\"a\":-NaN}"] { assertSyntaxError(text) }
    }

    func testMalformedNumbers() {
        for text in ["01", "-01", "00", "-", "+1", ".5", "1.", "1.e3", "1e", "1e+", "0x10", "1_000", "--1", "1.5.2"] {
            assertSyntaxError(text)
        }
    }

    func testMisspelledLiterals() {
        for text in ["tru", "nul", "True", "nulll", "falsey", "[t]", "undefined"] { assertSyntaxError(text) }
    }

    func testStructuralErrors() {
        for text in ["[1,]", "[,1]", "{,}", "{\"a\"}", "{\"a\":}", "{\"a\" 1}", "{1:2}", "{a:1}", "]", "[", "{",
                     "{\"a\":1 \"b\":2}", "[1 2]", "{\"a\":1,}", "[}", "{]", "'a'"] {
            assertSyntaxError(text)
        }
    }

    func testTrailingGarbage() {
        for text in ["{} x", "1 2", "{}{}", "[]]", "null,", "\"a\"\"b\"", "{}\u{0}"] { assertSyntaxError(text) }
    }

    func testByteOrderMarkAndNonJSONWhitespace() {
        assertSyntaxError("\u{FEFF}{}")
        assertSyntaxError("\u{0B}{}")
        assertSyntaxError("{}\u{0C}")
        assertSyntaxError("\u{A0}1")
    }

    func testUnescapedControlCharactersInStrings() {
        for byte: UInt8 in [0x00, 0x01, 0x09, 0x0A, 0x0D, 0x1F] {
            assertRefused([0x22, 0x61, byte, 0x22]) { $0 == .syntax(offset: 2, reason: "unescaped control character in string") }
        }
    }

    func testBadEscapes() {
        for text in [#""\x""#, #""\u12""#, #""\u12G4""#, #""\U0041""#, #""\"#, #""\'""#, #""\u""#] {
            assertSyntaxError(text)
        }
    }

    func testUnterminatedStrings() {
        for text in ["\"abc", "\"", "{\"a", "[\"\u{e9}"] { assertSyntaxError(text) }
    }

    func testLoneSurrogateEscapes() {
        let cases: [(String, Int)] = [
            (#""\ud800""#, 1), (#""\udc00""#, 1), (#"["ab\udbff"]"#, 4), (#""\ud800\u0041""#, 1),
            (#""\ud800x""#, 1), (#""\ud800\n""#, 1), (#""\ud800\ud800""#, 1), (#""\ude00\ud83d""#, 1),
        ]
        for (text, offset) in cases {
            assertRefused(Array(text.utf8)) { $0 == .loneSurrogate(offset: offset) }
        }
    }

    func testInvalidUTF8InStrings() {
        let sequences: [[UInt8]] = [
            [0x80], [0xBF], // lone continuation bytes
            [0xC0, 0xAF], [0xC1, 0xBF], [0xE0, 0x80, 0xAF], [0xF0, 0x80, 0x80, 0xAF], // overlong forms
            [0xED, 0xA0, 0x80], [0xED, 0xBF, 0xBF], // UTF-16 surrogates encoded in UTF-8
            [0xF4, 0x90, 0x80, 0x80], [0xF5, 0x80, 0x80, 0x80], [0xFF], [0xFE], // above U+10FFFF / never valid
            [0xC3], [0xE2, 0x82], [0xF0, 0x9F, 0x98], // truncated before the closing quote
            [0xC3, 0x41], [0xE2, 0x28, 0xA1], [0xF0, 0x9F, 0x98, 0x41], // bad continuation byte
        ]
        for sequence in sequences {
            assertRefused([0x22, 0x61] + sequence + [0x22]) { $0 == .invalidUTF8(offset: 2) }
        }
        assertRefused([0x22, 0xE2, 0x82]) { $0 == .invalidUTF8(offset: 1) }
    }

    func testInvalidUTF8OutsideStrings() {
        assertRefused([0xC3, 0xA9]) { if case .syntax(offset: 0, _) = $0 { return true } else { return false } }
        assertRefused([0x5B, 0xFF, 0x5D]) { if case .syntax(offset: 1, _) = $0 { return true } else { return false } }
    }

    func testDuplicateKeys() {
        assertRefused(Array("{\"a\":1,\"a\":2}".utf8)) { $0 == .duplicateKey("a") }
        assertRefused(Array("{\"x\":{\"b\":1,\"c\":1,\"b\":1}}".utf8)) { $0 == .duplicateKey("b") }
        assertRefused(Array("{\"\u{e9}\":1,\"\\u00e9\":2}".utf8)) { $0 == .duplicateKey("\u{e9}") }
        assertRefused(Array(#"{"a\/":1,"a/":2}"#.utf8)) { $0 == .duplicateKey("a/") }
    }

    func testNestingBeyondTheDepthLimit() {
        let limits = JSONParser.Limits(maxDepth: 3, maxBytes: 1 << 20)
        assertRefused(Array("[[[[]]]]".utf8), limits: limits) { $0 == .tooDeep }
        assertRefused(Array("{\"a\":{\"b\":[{}]}}".utf8), limits: limits) { $0 == .tooDeep }
        assertRefused(Array(String(repeating: "[", count: 65).utf8)) { $0 == .tooDeep }
        // A hostile megabyte of openers is refused without recursion.
        assertRefused([UInt8](repeating: UInt8(ascii: "["), count: 1 << 20)) { $0 == .tooDeep }
    }

    func testInputBeyondTheSizeLimit() {
        assertRefused(Array("[1,2,3,4] ".utf8), limits: .init(maxDepth: 4, maxBytes: 9)) { $0 == .tooLarge }
        assertRefused([UInt8](repeating: 0x20, count: (1 << 20) + 1)) { $0 == .tooLarge }
    }
}
