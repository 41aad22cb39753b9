import Foundation
import Synchronization
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

    /// A reader that stops reading (a stalled container log pipe) must not stop the writers: their
    /// lines gather up to the limit, later ones are dropped and counted, and once the reader reads
    /// again every line that was kept arrives whole and in order, followed by the drop report.
    @Test func aStalledReaderNeitherBlocksWritersNorHoldsMoreThanTheLimit() async throws {
        var ends: [Int32] = [0, 0]
        try #require(pipe(&ends) == 0)
        let (readEnd, writeEnd) = (ends[0], ends[1])
        defer { close(readEnd) }
        let pipeBytes = Int(fcntl(writeEnd, 1032))  // F_GETPIPE_SZ
        let reports = Locked<[Int]>([])
        let output = LogOutput(descriptor: writeEnd, capacity: 1_024, interval: .milliseconds(10), limit: 8_192) { count in
            reports.value.withLock { $0.append(count) }
        }
        // 99-byte lines against a pipe nobody reads (64 KiB here), 8 KiB held and ≤ 8 KiB being written.
        let lineCount = max(2_000, 3 * pipeBytes / 99)
        let written = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            for line in 0..<lineCount { output.write("line \(String(line).padding(toLength: 93, withPad: " ", startingAt: 0))\n") }
            written.signal()
        }
        #expect(written.wait(timeout: .now() + 60) == .success, "a writer blocked on the stalled reader")
        let dropped = output.droppedLines
        #expect(dropped >= lineCount - (pipeBytes + 2 * 8_192) / 99 - 1)

        let received = Locked<[UInt8]>([])
        let reader = Thread {
            var buffer = [UInt8](repeating: 0, count: 65_536)
            while case let count = read(readEnd, &buffer, buffer.count), count > 0 {
                received.value.withLock { $0.append(contentsOf: buffer[..<count]) }
            }
        }
        reader.start()
        output.flush(waitingAtMost: .seconds(60))
        close(writeEnd)
        for _ in 0..<1_200 where !reader.isFinished { try await Task.sleep(for: .milliseconds(50)) }
        let lines = String(decoding: received.value.withLock { $0 }, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.last == "")
        let numbers = lines.dropLast().map { line in
            line.count == 98 && line.hasPrefix("line ") ? Int(line.dropFirst(5).trimmingCharacters(in: .whitespaces)) : nil
        }
        #expect(!numbers.contains(nil), "a torn line")
        let kept = numbers.compactMap { $0 }
        #expect(kept == kept.sorted() && Set(kept).count == kept.count, "lines out of order or repeated")
        #expect(kept.count + dropped == lineCount)
        #expect(reports.value.withLock { $0.reduce(0, +) } == dropped)
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

/// A value shared with the threads a test starts.
private final class Locked<Value: Sendable>: Sendable {
    let value: Mutex<Value>

    init(_ value: Value) {
        self.value = Mutex(value)
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
