import Foundation
import Logging
import MatrixCore
import Testing
@testable import WorkerApp

/// The JSON log line: the four fixed fields, metadata flattened into the same object (numbers as
/// numbers, nested dictionaries as dotted keys; a later layer — handler, provider, the call — replacing
/// an earlier one's value whole), fixed fields winning over metadata of the same name.
struct JSONLogHandlerTests {
    @Test func aLineIsOneFlatObject() throws {
        let value = JSONLogHandler.line(
            level: .info, message: "request", label: "leave-worker",
            metadata: [["request_id": "r1", "db": ["pool": "2", "idle": "1"], "origin": "handler.test"],
                       ["status": .stringConvertible(404), "duration_ms": .stringConvertible(1.5),
                        "origin": "remote.test", "db": ["pool": "4"], "message": "spoofed", "tags": ["a", "b"]]],
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
        #expect(line["db.idle"] == nil, "a later layer's value replaces the whole earlier one")
        #expect(line["request_id"]?.stringValue == "r1")
        #expect(line["tags"]?.arrayValue?.count == 2)
        #expect(!text.contains("\n"))
    }

    /// The hand-written timestamp and duration are what Foundation's formatters wrote before.
    @Test func timestampsAndDurationsAreFormattedAsFoundationDoes() {
        let style = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
        var seconds: Int64 = 0
        for step in 0..<2_000 {
            seconds = (seconds &* 6_364_136_223_846_793 &+ 1_442_695_040_888_963) % 7_258_118_400  // 1970…2200
            let date = Date(timeIntervalSince1970: Double(abs(seconds)) + [0, 0.125, 0.25, 0.5, 0.875][step % 5])
            #expect(JSONLogHandler.timestampText(date) == date.formatted(style), "\(date.timeIntervalSince1970)")
        }
        for leapDay in ["2000-02-29T23:59:59.500Z", "2024-02-29T00:00:00.000Z", "2100-03-01T12:00:00.125Z"] {
            let date = try? style.parse(leapDay)
            #expect(date.map(JSONLogHandler.timestampText) == leapDay)
        }
        for number in [0, 1.5, 0.0004, 0.0005, 0.0015, 2.4999, 12.3456, 999.9996, 1_234_567.891, -3.25, -0.0001, 1e13] {
            #expect(JSONLogHandler.threeDecimals(number) == String(format: "%.3f", number), "\(number)")
        }
    }
}
