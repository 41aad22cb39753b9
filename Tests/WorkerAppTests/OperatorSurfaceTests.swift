import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import MatrixCore
import MatrixCrypto
import RemoteHomeserver
import Synchronization
import TestSupport
import Testing

/// A real `serve` process with the internal listener and JSON logs: the federation port answers
/// only federation routes (and `/health`), the internal port serves `/metrics` — including the key
/// cache counters after a key fetch — and `/ready`; each request leaves one JSON access line; on
/// SIGTERM readiness fails while the drain period keeps the federation listener open; buffered
/// log lines are written by the time the process exits.
@Suite(.serialized) struct OperatorSurfaceTests {
    static let serverName = "resident.test"

    @Test func internalListenerJSONAccessLogAndDrain() async throws {
        let remote = SimulatedHomeserver(serverName: "remote.test", signingKey: try SigningKey.generate(version: "k1"))
        _ = try await remote.start()
        let internalPort = WorkerProcess.freePort()
        let setUp = try Migrated(overrides: [(remote.serverName, remote.baseURL ?? "")], settings: [
            "LEAVE_WORKER_INTERNAL_LISTEN": "127.0.0.1:\(internalPort)", "LEAVE_WORKER_SHUTDOWN_DRAIN_MS": "60000",
        ])
        defer { setUp.remove() }
        let worker = try await WorkerProcess(environment: setUp.environment)
        defer { kill(worker.process.processIdentifier, SIGKILL) }
        let internalURL = "http://127.0.0.1:\(internalPort)"

        #expect(try await Self.get(worker.baseURL + "/metrics").status == 404)
        #expect(try await Self.get(worker.baseURL + "/ready").status == 404)
        #expect(try await Self.get(worker.baseURL + "/health").status == 200)
        #expect(try await Self.get(internalURL + "/ready").status == 200)
        #expect(try await Self.get(internalURL + "/health").status == 200)

        // A signed request makes the worker fetch remote.test's key (then: no such room).
        let answer = try await remote.requester(destination: Self.serverName, baseURL: worker.baseURL)
            .makeLeave(roomID: "!absent:resident.test", userID: "@u:remote.test")
        #expect(answer.status == 404)
        let metrics = try await Self.get(internalURL + "/metrics")
        #expect(metrics.status == 200)
        for name in ["leave_worker_key_cache_misses_total", "leave_worker_key_fetches_total", "process_resident_memory_bytes",
                     "process_open_fds", "leave_worker_build_info{"] {
            #expect(metrics.text.contains(name), "\(name) missing from /metrics")
        }

        // Signed with another key of the same ID: refused, yet the line names the claimed origin.
        let impostor = SimulatedHomeserver(serverName: "remote.test", signingKey: try SigningKey.generate(version: "k1"))
        let refused = try await impostor.requester(destination: Self.serverName, baseURL: worker.baseURL)
            .makeLeave(roomID: "!absent:resident.test", userID: "@u:remote.test")
        #expect(refused.status == 401)

        // Log lines are written in batches (LogOutput): wait for the two of the make_leaves.
        var access: JSONObject?
        var refusal: JSONObject?
        for _ in 0..<100 where access == nil || refusal == nil {
            let lines = worker.outputText().split(separator: "\n").compactMap { line in
                (try? JSONParser.parse(String(line)))?.objectValue
            }.filter { $0["message"]?.stringValue == "request" && $0["route"]?.stringValue == "make_leave" }
            access = lines.first { $0["status"]?.integerValue == 404 }
            refusal = lines.first { $0["status"]?.integerValue == 401 }
            if access == nil || refusal == nil { try await Task.sleep(for: .milliseconds(50)) }
        }
        let refusedLine = try #require(refusal, "no access line for the refused make_leave in: \(worker.outputText())")
        #expect(refusedLine["origin"]?.stringValue == "remote.test")
        #expect(refusedLine["errcode"]?.stringValue == "M_UNAUTHORIZED")
        let line = try #require(access, "no access line for make_leave in: \(worker.outputText())")
        #expect(line["origin"]?.stringValue == "remote.test")
        #expect(line["method"]?.stringValue == "GET")
        #expect(line["status"]?.integerValue == 404)
        #expect(line["errcode"]?.stringValue == "M_NOT_FOUND")
        #expect(line["outcome"]?.stringValue == "refused")
        #expect(line["level"]?.stringValue == "info")
        #expect(line["request_id"]?.stringValue?.isEmpty == false)
        #expect(line["duration_ms"] != nil && line["ts"] != nil && line["label"] != nil)

        // SIGTERM: /ready fails on the internal port while the federation listener still answers.
        kill(worker.process.processIdentifier, SIGTERM)
        var readyStatus = 200
        for _ in 0..<200 where readyStatus == 200 {
            readyStatus = (try? await Self.get(internalURL + "/ready").status) ?? 0
            if readyStatus == 200 { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(readyStatus == 503)
        #expect(try await Self.get(worker.baseURL + "/health").status == 200)
        #expect(worker.process.isRunning)
        // The sender stopped with the drain's start, not after the listeners (its transaction in
        // flight then ran on past the grace period's share for them).
        var senderStopped = false
        for _ in 0..<200 where !senderStopped {
            senderStopped = worker.outputText().split(separator: "\n").contains {
                (try? JSONParser.parse(String($0)))?["message"]?.stringValue == "forwarding stopped"
            }
            if !senderStopped { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(senderStopped, "the sender still ran during the drain")
        #expect(worker.process.isRunning)
        await remote.stop()
    }

    /// Log lines are written in batches: the access line of the last request before SIGTERM is
    /// in the output once the process has exited (the buffer is flushed at shutdown).
    @Test func accessLinesAreWrittenByExit() async throws {
        let setUp = try Migrated(settings: ["LEAVE_WORKER_SHUTDOWN_DRAIN_MS": "0"])
        defer { setUp.remove() }
        let worker = try await WorkerProcess(environment: setUp.environment)

        #expect(try await Self.get(worker.baseURL + "/_matrix/federation/v1/version").status == 200)
        #expect(worker.stop() == 0)
        let lines = worker.outputText().split(separator: "\n").compactMap { (try? JSONParser.parse(String($0)))?.objectValue }
        #expect(lines.contains { $0["message"]?.stringValue == "request" && $0["route"]?.stringValue == "version" },
                "no access line for the version request in: \(worker.outputText())")
    }

    /// What a remote server sends and the worker quotes back — here a duplicate JSON member name of
    /// 32 KiB full of line breaks, refused before any authentication — is clipped in the answer and
    /// the access line, and in the text format its line breaks are escapes: it cannot write a line
    /// of its own. (Quoted whole, the answer and the line were 32 KiB, and the name's lines stood
    /// in the log as lines of the worker's.)
    @Test func remoteTextIsClippedAndCannotForgeTextLogLines() async throws {
        let setUp = try Migrated(settings: ["LEAVE_WORKER_LOG_FORMAT": "text", "LEAVE_WORKER_SHUTDOWN_DRAIN_MS": "0"])
        defer { setUp.remove() }
        let worker = try await WorkerProcess(environment: setUp.environment)
        let forged = #"\ninfo : forged=line origin=victim.example status=200\n"#   // JSON escapes: line breaks once parsed
        let name = String(repeating: forged, count: 32_768 / forged.count)
        let body = Array("{\"\(name)\":1,\"\(name)\":1}".utf8)
        var request = URLRequest(url: try #require(URL(string: worker.baseURL + "/_matrix/federation/v2/send_leave/!r:resident.test/$e")))
        request.httpMethod = "PUT"
        request.httpBody = Data(body)
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.setValue("close", forHTTPHeaderField: "Connection")
        let (data, response) = try await URLSession.shared.data(for: request)
        #expect((response as? HTTPURLResponse)?.statusCode == 400)
        #expect(data.count < 2_048, "an answer of \(data.count) bytes")
        #expect(worker.stop() == 0)
        let lines = worker.outputText().split(separator: "\n")
        #expect(!lines.contains { $0.hasPrefix("info : forged") }, "a forged line was written")
        let access = lines.filter { $0.contains("Duplicate key") }
        #expect(access.count == 1, "\(access.count) lines quote the name")
        #expect(access.allSatisfy { $0.utf8.count < 4_096 }, "lines of \(access.map(\.utf8.count)) bytes")
    }

    /// A log reader that stops reading (a stalled container log pipe) does not stop the worker: it
    /// answers every request while its standard error takes nothing, drops the lines beyond its
    /// buffer, counts them in `/metrics`, and once read again its lines arrive whole, with a
    /// warning saying how many were dropped. (Logging used to write from the request's own thread:
    /// the worker stopped answering after ≈ 300 requests, /health included.)
    @Test func aStalledLogReaderDoesNotStopTheWorker() async throws {
        let internalPort = WorkerProcess.freePort()
        let setUp = try Migrated(settings: ["LEAVE_WORKER_INTERNAL_LISTEN": "127.0.0.1:\(internalPort)"])
        defer { setUp.remove() }
        let logs = Pipe()
        let worker = try await WorkerProcess(environment: setUp.environment, output: logs.fileHandleForWriting)

        // ≈ 200-byte access lines: 8,000 requests write ≈ 1.6 MB, past the pipe (64 KiB) and the
        // worker's buffer (1 MiB).
        let version = try #require(URL(string: worker.baseURL + "/_matrix/federation/v1/version"))
        let statuses = try await withThrowingTaskGroup(of: [Int].self) { group in
            for _ in 0..<8 {
                group.addTask {
                    var statuses: [Int] = []
                    for _ in 0..<1_000 {
                        var request = URLRequest(url: version)
                        request.timeoutInterval = 10
                        let (_, response) = try await URLSession.shared.data(for: request)
                        statuses.append((response as? HTTPURLResponse)?.statusCode ?? 0)
                    }
                    return statuses
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        #expect(statuses.count == 8_000 && statuses.allSatisfy { $0 == 200 })
        #expect(try await Self.get(worker.baseURL + "/health").status == 200)
        let metrics = try await Self.get("http://127.0.0.1:\(internalPort)/metrics").text
        let droppedLine = metrics.split(separator: "\n").first { $0.hasPrefix("leave_worker_log_lines_dropped_total ") }
        let dropped = try #require(droppedLine.flatMap { Int($0.split(separator: " ")[1]) }, "no drop counter in /metrics")
        #expect(dropped > 0)

        // Read again: whole JSON lines, and the warning with the count.
        let received = LockedBytes()
        let readEnd = logs.fileHandleForReading.fileDescriptor
        Thread.detachNewThread {
            var buffer = [UInt8](repeating: 0, count: 65_536)
            while case let count = read(readEnd, &buffer, buffer.count), count > 0 { received.append(buffer[..<count]) }
        }
        var warning: JSONObject?
        for _ in 0..<600 where warning == nil {
            warning = received.lines().compactMap { (try? JSONParser.parse(String($0)))?.objectValue }
                .first { $0["message"]?.stringValue == "log lines dropped: standard error did not take them" }
            if warning == nil { try await Task.sleep(for: .milliseconds(50)) }
        }
        let report = try #require(warning, "no drop warning in the log")
        #expect(report["level"]?.stringValue == "warning")
        #expect((report["dropped_lines"]?.integerValue ?? 0) > 0)
        #expect(worker.stop() == 0)
        try logs.fileHandleForWriting.close()
        let lines = received.lines()
        #expect(lines.allSatisfy { (try? JSONParser.parse(String($0)))?.objectValue != nil }, "a torn log line")
        #expect(lines.count > 1_000)
    }

    /// A fresh migrated database and signing key for one worker logging JSON lines at `info`, plus
    /// `settings`; ``remove()`` at the end.
    struct Migrated {
        let databaseURL: String
        let keyFile: URL
        let environment: [String: String]

        init(overrides: [(String, String)] = [], settings: [String: String] = [:]) throws {
            databaseURL = try TestDatabase.create(prefix: "app")
            keyFile = FileManager.default.temporaryDirectory.appendingPathComponent("operator-\(UUID().uuidString).key")
            var environment = WorkerEnvironment.make(serverName: OperatorSurfaceTests.serverName, keyFile: keyFile,
                                                     databaseURL: databaseURL, overrides: overrides)
            environment["LEAVE_WORKER_LOG_LEVEL"] = "info"
            environment["LEAVE_WORKER_LOG_FORMAT"] = "json"
            self.environment = environment.merging(settings) { $1 }
            do {
                try PrivateFile.write(try SigningKey.generate(version: "rs1").keyFileLine + "\n", to: keyFile)
                let migrated = try WorkerProcess.run(["migrate"], environment: self.environment)
                try #require(migrated.status == 0, "\(migrated.stderr)")
            } catch {
                remove()
                throw error
            }
        }

        func remove() {
            try? TestDatabase.drop(databaseURL)
            try? FileManager.default.removeItem(at: keyFile)
        }
    }

    static func get(_ url: String) async throws -> (status: Int, text: String) {
        var request = URLRequest(url: try #require(URL(string: url)))
        request.timeoutInterval = 10
        request.setValue("close", forHTTPHeaderField: "Connection")
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
    }
}

/// Bytes a reader thread collects from a pipe.
private final class LockedBytes: Sendable {
    private let bytes = Mutex<[UInt8]>([])

    func append(_ chunk: ArraySlice<UInt8>) {
        bytes.withLock { $0.append(contentsOf: chunk) }
    }

    /// The complete lines so far.
    func lines() -> [Substring] {
        let text = String(decoding: bytes.withLock { $0 }, as: UTF8.self)
        return text.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
    }
}
