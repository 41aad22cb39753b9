import Foundation
import Logging
import MatrixCore
import Testing
@testable import WorkerApp

/// The JSON log line: the four fixed fields, metadata flattened into the same object (numbers as
/// numbers, nested dictionaries as dotted keys), fixed fields winning over metadata of the same name.
struct JSONLogHandlerTests {
    @Test func aLineIsOneFlatObject() throws {
        let value = JSONLogHandler.line(
            level: .info, message: "request", label: "leave-worker",
            metadata: ["status": .stringConvertible(404), "duration_ms": .stringConvertible(1.5),
                       "origin": "remote.test", "db": ["pool": "4"], "message": "spoofed", "tags": ["a", "b"]],
            timestamp: Date(timeIntervalSince1970: 1_800_000_000.25))
        let text = String(decoding: value.compactBytes(), as: UTF8.self)
        let line = try #require(try JSONParser.parse(text).objectValue)
        #expect(line["ts"]?.stringValue == "2027-01-15T08:00:00.250Z")
        #expect(line["level"]?.stringValue == "info")
        #expect(line["message"]?.stringValue == "request")
        #expect(line["label"]?.stringValue == "leave-worker")
        #expect(line["status"]?.integerValue == 404)
        #expect(text.contains(#""duration_ms":1.500"#))
        #expect(line["origin"]?.stringValue == "remote.test")
        #expect(line["db.pool"]?.stringValue == "4")
        #expect(line["tags"]?.arrayValue?.count == 2)
        #expect(!text.contains("\n"))
    }
}
