import Dispatch
import Logging
import MatrixCore
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where the log handlers write (standard error for the process): whole lines gathered in a
/// buffer and written by one serial queue of its own, one `write(2)` per batch — when the buffer
/// passes `capacity`, `interval` after the first line of a batch, on ``flush(waitingAtMost:)`` (the
/// worker calls it when it stops) and at process exit. Lines are appended under one lock and
/// batches written in the order they were taken, so lines come out whole and in the order they were
/// logged.
///
/// Logging never waits for the descriptor: a reader that stops reading (a stalled container log
/// pipe, a full disk behind it) blocks only the writer's queue — never a request's task or an event
/// loop, which would stop the whole worker. While it is blocked, lines gather up to `limit` bytes
/// and later ones are dropped and counted (``droppedLines``, `/metrics`); the first write after a
/// drop reports how many through `onDrop`.
final class LogOutput: TextOutputStream, Sendable {
    /// The process's standard error, flushed at exit. Drops are reported as a warning line.
    static let standardError: LogOutput = {
        let output = LogOutput(descriptor: STDERR_FILENO) { count in
            Logger(label: "leave-worker.log").warning(
                "log lines dropped: standard error did not take them", metadata: ["dropped_lines": .stringConvertible(count)])
        }
        atexit { LogOutput.standardError.flush() }
        return output
    }()

    /// Lines appended and not yet taken by the writer, and what the writer has been asked to do.
    private struct Pending {
        var bytes: [UInt8] = []
        /// An emptied buffer the writer handed back, reused for the next batch.
        var spare: [UInt8] = []
        var timedWriteScheduled = false
        var fullWriteScheduled = false
        /// Lines dropped since the last report.
        var unreported = 0
    }

    private let descriptor: Int32
    private let capacity: Int
    private let interval: Duration
    private let limit: Int
    private let onDrop: @Sendable (Int) -> Void
    private let pending = Mutex(Pending())
    private let dropped = Atomic<Int>(0)
    /// Writes the batches, one at a time, in the order they were taken.
    private let writer = DispatchQueue(label: "leave-worker.log-output")

    /// - Parameters:
    ///   - capacity: bytes that make a batch worth writing at once.
    ///   - interval: how long a batch's first line waits for more.
    ///   - limit: the most bytes held while the descriptor does not take them (≈ 2 s of access lines
    ///     at 2,000 requests/s); lines beyond it are dropped.
    ///   - onDrop: called on the writer's queue after the batch taken next after dropped lines is
    ///     written, with how many were dropped since the last call.
    init(
        descriptor: Int32, capacity: Int = 32 * 1024, interval: Duration = .milliseconds(100), limit: Int = 1 << 20,
        onDrop: @escaping @Sendable (Int) -> Void = { _ in }
    ) {
        self.descriptor = descriptor
        self.capacity = capacity
        self.interval = interval
        self.limit = limit
        self.onDrop = onDrop
    }

    /// Lines dropped since the start because the buffer was at its limit.
    var droppedLines: Int { dropped.load(ordering: .relaxed) }

    /// One line (with its `\n`) from a text handler.
    func write(_ string: String) {
        var string = string
        string.withUTF8 { append(UnsafeRawBufferPointer($0)) }
    }

    /// One line, with its `\n`.
    func append(_ line: UnsafeRawBufferPointer) {
        let (timed, full) = pending.withLock { pending -> (Bool, Bool) in
            guard pending.bytes.count + line.count <= limit else {
                pending.unreported += 1
                dropped.add(1, ordering: .relaxed)
                return (false, false)
            }
            pending.bytes.append(contentsOf: line)
            let timed = !pending.timedWriteScheduled
            let full = pending.bytes.count >= capacity && !pending.fullWriteScheduled
            pending.timedWriteScheduled = true
            pending.fullWriteScheduled = pending.fullWriteScheduled || full
            return (timed, full)
        }
        if full { writer.async { self.writeTaken() } }
        if timed { writer.asyncAfter(deadline: .now() + .nanoseconds(Int(interval.saturatingNanoseconds))) { self.writeTaken() } }
    }

    /// Writes every line appended so far, waiting at most `bound` for the descriptor to take them
    /// (they are written later if it does not).
    func flush(waitingAtMost bound: Duration = .seconds(2)) {
        let written = DispatchSemaphore(value: 0)
        writer.async {
            self.writeTaken()
            written.signal()
        }
        _ = written.wait(timeout: .now() + .nanoseconds(Int(bound.saturatingNanoseconds)))
    }

    /// On the writer's queue: takes the buffered lines and writes them.
    private func writeTaken() {
        var (batch, unreported) = pending.withLock { pending in
            let batch = pending.bytes
            pending.bytes = pending.spare
            pending.spare = []
            pending.timedWriteScheduled = false
            pending.fullWriteScheduled = false
            defer { pending.unreported = 0 }
            return (batch, pending.unreported)
        }
        if !batch.isEmpty {
            writeOut(batch)
            batch.removeAll(keepingCapacity: true)
            pending.withLock { $0.spare = batch }
        }
        if unreported > 0 { onDrop(unreported) }
    }

    /// Writes all of `bytes` (retrying short writes and EINTR; a descriptor that fails drops
    /// them: logging never stops the worker).
    private func writeOut(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = writeBytes(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                if written > 0 {
                    offset += written
                } else if written < 0, errno == EINTR {
                    continue
                } else {
                    break
                }
            }
        }
    }
}

/// `write(2)` (the name `write` inside ``LogOutput`` is its `TextOutputStream` method).
private func writeBytes(_ descriptor: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int {
    write(descriptor, bytes, count)
}
