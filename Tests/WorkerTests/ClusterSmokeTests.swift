import Foundation
import MatrixCore
import TestSupport
import Testing

/// The local deployment as an operator runs it: `deploy/local/cluster.sh up` (Postgres, two
/// workers, HAProxy with /ready checks on their internal ports), /metrics and /ready kept off the
/// public port, a short `leave-worker loadgen` through HAProxy, `down`.
@Suite(.serialized)
struct ClusterSmokeTests {
    static let script = """
        set -euo pipefail
        trap 'deploy/local/cluster.sh down --purge >&2 || true' EXIT
        deploy/local/cluster.sh up --workers 2 --port 0 --bin "$WORKER_BIN" >&2
        . "$LEAVE_WORKER_CLUSTER_DIR/env"
        status() { curl -s -o /dev/null -m 5 -w '%{http_code}' "$1"; }
        # /metrics and /ready: served by each worker's internal port to the operator, not through
        # the public load balancer.
        [ "$(status "$LEAVE_WORKER_CLUSTER_TARGET/metrics")" = 404 ] || { echo "HAProxy serves /metrics" >&2; exit 1; }
        [ "$(status "$LEAVE_WORKER_CLUSTER_TARGET/ready")" = 404 ] || { echo "HAProxy serves /ready" >&2; exit 1; }
        worker=http://127.0.0.1:$(cat "$LEAVE_WORKER_CLUSTER_DIR/worker-1.internal-port")
        [ "$(status "$worker/metrics")" = 200 ] || { echo "worker 1 does not serve /metrics" >&2; exit 1; }
        "$LEAVE_WORKER_CLUSTER_BIN" loadgen --target "$LEAVE_WORKER_CLUSTER_TARGET" --mode pairs \
            --rooms 2 --members 150 --concurrency 8 --duration 6 --json --quiet
        """

    @Test func twoWorkersBehindHAProxyLoseNothing() async throws {
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let state = FileManager.default.temporaryDirectory.appendingPathComponent("cluster-\(UUID().uuidString)")
        var environment = ProcessInfo.processInfo.environment
        environment["LEAVE_WORKER_CLUSTER_DIR"] = state.path
        environment["WORKER_BIN"] = WorkerProcess.executable.path
        let result = try await ChildProcess.run("/bin/bash", ["-c", Self.script], environment: environment,
                                                directory: repository)
        #expect(result.status == 0, "cluster smoke run failed: \(result.stderr.suffix(3000))")
        let report = try JSONParser.parse(result.stdout)
        #expect(report["lost"] == .integer(0), "\(result.stdout)")
        #expect(report["server_errors"] == .integer(0), "\(result.stdout)")
        #expect((report["accepted"]?.integerValue ?? 0) > 0, "\(result.stdout)")
    }
}

/// Runs any program to completion on a Dispatch thread (never holding a cooperative thread).
enum ChildProcess {
    static func run(_ executable: String, _ arguments: [String], environment: [String: String], directory: URL)
        async throws -> (status: Int32, stdout: String, stderr: String)
    {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(with: Result {
                    let process = Process()
                    process.executableURL = URL(fileURLWithPath: executable)
                    process.arguments = arguments
                    process.environment = environment
                    process.currentDirectoryURL = directory
                    let errorFile = FileManager.default.temporaryDirectory.appendingPathComponent("child-\(UUID().uuidString).err")
                    _ = FileManager.default.createFile(atPath: errorFile.path, contents: nil)
                    let errors = try FileHandle(forWritingTo: errorFile)
                    let out = Pipe()
                    process.standardOutput = out
                    process.standardError = errors
                    process.standardInput = FileHandle.nullDevice
                    try process.run()
                    let stdout = out.fileHandleForReading.readDataToEndOfFile()
                    process.waitUntilExit()
                    let stderr = (try? String(contentsOf: errorFile, encoding: .utf8)) ?? ""
                    try? FileManager.default.removeItem(at: errorFile)
                    return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), stderr)
                })
            }
        }
    }
}
