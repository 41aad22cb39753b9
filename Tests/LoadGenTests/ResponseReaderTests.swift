@testable import LoadGen
import NIOCore
import XCTest

/// The send-only driver's response framing: whole responses however the bytes are split, and an
/// error (never a guess) for framing it does not read.
final class ResponseReaderTests: XCTestCase {
    private func responses(_ text: String, chunk: Int) throws -> [ResponseReader.Response] {
        var reader = ResponseReader()
        var found: [ResponseReader.Response] = []
        let bytes = Array(text.utf8)
        for start in stride(from: 0, to: bytes.count, by: chunk) {
            var buffer = ByteBuffer(bytes: bytes[start..<min(start + chunk, bytes.count)])
            reader.append(&buffer)
            while let response = try reader.next() { found.append(response) }
        }
        return found
    }

    func testFramesResponsesSplitAnywhere() throws {
        let text = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nContent-Length: 2\r\n\r\n{}"
            + "HTTP/1.1 403 Forbidden\r\nCONTENT-LENGTH:  25 \r\nConnection: close\r\n\r\n{\"errcode\":\"M_FORBIDDEN\"}"
            + "HTTP/1.1 204 No Content\r\n\r\n"
        let expected = [
            ResponseReader.Response(status: 200, body: Array("{}".utf8), closes: false),
            ResponseReader.Response(status: 403, body: Array("{\"errcode\":\"M_FORBIDDEN\"}".utf8), closes: true),
            ResponseReader.Response(status: 204, body: [], closes: false),
        ]
        for chunk in [1, 2, 7, 64, text.utf8.count] {
            XCTAssertEqual(try responses(text, chunk: chunk), expected, "chunk \(chunk)")
        }
    }

    func testWaitsForTheWholeBody() throws {
        var reader = ResponseReader()
        var head = ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nabc")
        reader.append(&head)
        XCTAssertNil(try reader.next())
        var rest = ByteBuffer(string: "de")
        reader.append(&rest)
        XCTAssertEqual(try reader.next()?.body, Array("abcde".utf8))
        XCTAssertNil(try reader.next())
    }

    func testRefusesWhatItCannotFrame() {
        let cases: [(String, ResponseReader.Failure)] = [
            ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n", .unframed),
            ("HTTP/1.1 200 OK\r\n\r\n{}", .unframed),
            ("SMTP 220 hello\r\n\r\n", .malformed),
            ("HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n", .malformed),
            ("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}", .malformed),
            ("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", .malformed),
            ("HTTP/1.1 200 OK\r\nno colon here\r\nContent-Length: 0\r\n\r\n", .malformed),
            ("HTTP/1.1 200 OK\r\nX: " + String(repeating: "a", count: ResponseReader.maxHeadBytes), .malformed),
        ]
        for (text, failure) in cases {
            XCTAssertThrowsError(try responses(text, chunk: 1 << 20), text) { error in
                XCTAssertEqual(error as? ResponseReader.Failure, failure, text)
            }
        }
    }
}
