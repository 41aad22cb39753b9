import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A real `leave-worker` process, started from the binary the test build produced (beside the
/// test bundle), for tests that must speak HTTP to the real server or run its commands.
// Why unchecked sendability is safe: every stored property is a `let` set in init; the only mutable object is
// Foundation's Process, whose terminate/waitUntilExit/isRunning are thread-safe.
public final class WorkerProcess: @unchecked Sendable {
    public let process: Process
    public let port: Int
    /// Where the process's stdout and stderr go (a file, so a chatty worker never blocks on a full pipe).
    public let logFile: URL

    /// The `leave-worker` executable built next to the test bundle.
    public static var executable: URL {
        let bundleDirectory = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        return bundleDirectory.appendingPathComponent("leave-worker")
    }

    /// The repository's `sql/` directory.
    public static var sqlDirectory: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("sql").path
    }

    /// A free TCP port on 127.0.0.1 (bound and released; a tiny race is acceptable in tests).
    public static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        _ = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// The sanitizer settings a child takes from this test process unless `environment` sets them.
    static let sanitizerVariables = ["ASAN_OPTIONS", "LSAN_OPTIONS", "TSAN_OPTIONS", "UBSAN_OPTIONS"]

    /// `environment`, plus this test process' sanitizer settings: a sanitized run (Fuzz/RESULTS.md)
    /// configures the workers it starts as it configures itself — `log_path`, so a child's reports
    /// outlive its log file, and `detect_leaks=0`, so LeakSanitizer's exit report (the Swift
    /// runtime's caches) does not turn a worker's clean exit into status 1.
    static func childEnvironment(_ environment: [String: String]) -> [String: String] {
        var environment = environment
        let inherited = ProcessInfo.processInfo.environment
        for name in sanitizerVariables where environment[name] == nil {
            environment[name] = inherited[name]
        }
        return environment
    }

    /// Runs a `leave-worker` command to completion; returns exit status, stdout and stderr.
    public static func run(_ arguments: [String], environment: [String: String], stdin: Data? = nil) throws
        -> (status: Int32, stdout: String, stderr: String)
    {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.environment = childEnvironment(environment)
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        let input = Pipe()
        process.standardInput = input
        try process.run()
        if let stdin { input.fileHandleForWriting.write(stdin) }
        try input.fileHandleForWriting.close()
        let stdoutData = out.fileHandleForReading.readDataToEndOfFile()
        let stderrData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: stdoutData, as: UTF8.self), String(decoding: stderrData, as: UTF8.self))
    }

    /// Starts `leave-worker serve` on a free port and waits until `/health` answers (at most 20 s).
    /// Its stdout and stderr go to ``logFile``, or to `output` when given (``outputText()`` is then empty).
    public init(environment: [String: String], output: FileHandle? = nil) async throws {
        port = Self.freePort()
        var environment = environment
        environment["LEAVE_WORKER_LISTEN"] = "127.0.0.1:\(port)"
        process = Process()
        process.executableURL = Self.executable
        process.arguments = ["serve"]
        process.environment = Self.childEnvironment(environment)
        logFile = FileManager.default.temporaryDirectory.appendingPathComponent("leave-worker-\(port)-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: logFile.path, contents: nil)
        let handle = try output ?? FileHandle(forWritingTo: logFile)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            if !process.isRunning {
                let text = outputText()
                throw WorkerProcessError(description: "leave-worker serve exited with \(process.terminationStatus): \(text)")
            }
            if await Self.answersHealth(port: port) { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        process.terminate()
        throw WorkerProcessError(description: "leave-worker serve did not answer /health within 20 s")
    }

    public var baseURL: String { "http://127.0.0.1:\(port)" }

    /// Sends SIGTERM and waits for the exit; returns the exit status.
    @discardableResult
    public func stop() -> Int32 {
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// Everything the process has written so far.
    public func outputText() -> String {
        (try? String(contentsOf: logFile, encoding: .utf8)) ?? ""
    }

    /// Stops the process if a test left it running and removes its log (a test that needs the log
    /// reads ``outputText()`` while it holds the worker).
    deinit {
        if process.isRunning { process.terminate() }
        try? FileManager.default.removeItem(at: logFile)
    }

    private static func answersHealth(port: Int) async -> Bool {
        guard let url = URL(string: "http://127.0.0.1:\(port)/health") else { return false }
        var request = URLRequest(url: url)
        request.timeoutInterval = 1
        // Not kept alive: a test counting the worker's connections sees only its own.
        request.setValue("close", forHTTPHeaderField: "Connection")
        guard let (_, response) = try? await URLSession.shared.data(for: request) else { return false }
        return (response as? HTTPURLResponse)?.statusCode == 200
    }
}

/// A worker process that failed to start or answer.
public struct WorkerProcessError: Error, CustomStringConvertible {
    public let description: String

    public init(description: String) {
        self.description = description
    }
}
