import Foundation
import Testing
@testable import WorkerApp

/// The buffered log output: every line written exactly once, whole and in order per writer —
/// whether written because the buffer filled, because its timer ran, or on an explicit flush.
struct LogOutputTests {
    @Test func concurrentWritersGetEveryLineOnceInOrder() async throws {
        let file = try TemporaryLogFile()
        let output = LogOutput(descriptor: file.descriptor, capacity: 1_000, interval: .seconds(3_600))
        await withTaskGroup(of: Void.self) { group in
            for writer in 0..<8 {
                group.addTask {
                    for line in 0..<500 { output.write("writer \(writer) line \(line)\n") }
                }
            }
        }
        output.flush()
        let lines = file.text().split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.last == "")
        var next = [Int](repeating: 0, count: 8)
        for line in lines.dropLast() {
            let fields = line.split(separator: " ")
            let writer = try #require(fields.count == 4 ? Int(fields[1]) : nil, "torn line: \(line)")
            #expect(Int(fields[3]) == next[writer], "writer \(writer) out of order at \(line)")
            next[writer] += 1
        }
        #expect(next == [Int](repeating: 500, count: 8))
    }

    @Test func linesBelowTheCapacityAreWrittenByTheTimer() async throws {
        let file = try TemporaryLogFile()
        let output = LogOutput(descriptor: file.descriptor, capacity: 1 << 20, interval: .milliseconds(20))
        output.write("first\n")
        output.write("second\n")
        for _ in 0..<200 where file.text().isEmpty { try await Task.sleep(for: .milliseconds(25)) }
        #expect(file.text() == "first\nsecond\n")
    }

    @Test func flushWritesWhatIsBuffered() throws {
        let file = try TemporaryLogFile()
        let output = LogOutput(descriptor: file.descriptor, capacity: 1 << 20, interval: .seconds(3_600))
        output.write("only line\n")
        #expect(file.text().isEmpty)
        output.flush()
        #expect(file.text() == "only line\n")
    }
}

/// A file the output writes to, read back by name; removed at the end.
private final class TemporaryLogFile {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("log-output-\(UUID().uuidString)")
    let descriptor: Int32

    init() throws {
        descriptor = open(url.path, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        try #require(descriptor >= 0)
    }

    func text() -> String {
        (try? String(contentsOf: url, encoding: .utf8)) ?? ""
    }

    deinit {
        close(descriptor)
        try? FileManager.default.removeItem(at: url)
    }
}
