import Dispatch
import MatrixCore
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where the log handlers write (standard error for the process): whole lines gathered in a
/// buffer and written with one `write(2)` per batch instead of one per line — when the buffer
/// passes `capacity`, `interval` after the first line of a batch, on ``flush()`` (the worker calls
/// it when it stops) and at process exit. Lines are appended and written under one lock, so they
/// come out whole and in the order they were logged.
final class LogOutput: TextOutputStream, Sendable {
    /// The process's standard error, flushed at exit.
    static let standardError: LogOutput = {
        let output = LogOutput(descriptor: STDERR_FILENO)
        atexit { LogOutput.standardError.flush() }
        return output
    }()

    private let descriptor: Int32
    private let capacity: Int
    private let interval: Duration
    /// The lines not written yet, and whether a timed flush is scheduled for them.
    private let pending = Mutex<(bytes: [UInt8], scheduled: Bool)>(([], false))

    init(descriptor: Int32, capacity: Int = 32 * 1024, interval: Duration = .milliseconds(100)) {
        self.descriptor = descriptor
        self.capacity = capacity
        self.interval = interval
    }

    /// One line (with its `\n`) from a text handler.
    func write(_ string: String) {
        var string = string
        string.withUTF8 { append(UnsafeRawBufferPointer($0)) }
    }

    /// One line, with its `\n`.
    func append(_ line: UnsafeRawBufferPointer) {
        let scheduleFlush = pending.withLock { pending in
            pending.bytes.append(contentsOf: line)
            if pending.bytes.count >= capacity {
                writeOut(&pending.bytes)
                return false
            }
            defer { pending.scheduled = true }
            return !pending.scheduled
        }
        if scheduleFlush {
            DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(Int(interval.saturatingNanoseconds))) {
                self.flush()
            }
        }
    }

    /// Writes every line appended so far.
    func flush() {
        pending.withLock { pending in
            writeOut(&pending.bytes)
            pending.scheduled = false
        }
    }

    /// Writes all of `bytes` (retrying short writes and EINTR; a descriptor that fails drops
    /// them: logging never stops the worker) and empties it.
    private func writeOut(_ bytes: inout [UInt8]) {
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
        bytes.removeAll(keepingCapacity: true)
    }
}

/// `write(2)` (the name `write` inside ``LogOutput`` is its `TextOutputStream` method).
private func writeBytes(_ descriptor: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int {
    write(descriptor, bytes, count)
}
