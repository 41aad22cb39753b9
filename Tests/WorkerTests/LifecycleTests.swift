import Foundation
import MatrixCore
import Postgres
import RemoteHomeserver
import TestSupport
import Testing
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The process around the handshake: startup checks, readiness, metrics, key fetching under a
/// burst, graceful shutdown.
@Suite(.serialized)
struct LifecycleTests {
    static func get(_ url: String) async throws -> (status: Int, body: String) {
        let (data, response) = try await URLSession.shared.data(from: try #require(URL(string: url)))
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
    }

    @Test func startupRefusesMissingSettingsAndAnUnmigratedDatabase() async throws {
        let fixture = try await ResidentFixture()
        var environment = fixture.environment
        environment["LEAVE_WORKER_SERVER_NAME"] = nil
        let noName = try await WorkerProcess.runWithoutBlocking(["serve"], environment: environment)
        #expect(noName.status != 0)
        #expect(noName.stderr.contains("LEAVE_WORKER_SERVER_NAME"))

        environment = fixture.environment
        environment["LEAVE_WORKER_LISTEN"] = "nonsense"
        let badListen = try await WorkerProcess.runWithoutBlocking(["serve"], environment: environment)
        #expect(badListen.status != 0)
        #expect(badListen.stderr.contains("LEAVE_WORKER_LISTEN"))

        environment = fixture.environment
        environment["LEAVE_WORKER_DATABASE_URL"] = try TestDatabase.create(prefix: "unmigrated")
        let unmigrated = try await WorkerProcess.runWithoutBlocking(["serve"], environment: environment)
        #expect(unmigrated.status != 0)
        #expect(unmigrated.stderr.contains("leave-worker migrate"))
        await fixture.shutdown()
    }

    /// A command's failure is one line on stderr (INTERFACE.md): libpq's "Connection refused"
    /// goes on over a second, tab-indented line, which came through as it was.
    @Test func aDatabaseThatRefusesTheConnectionIsOneLineOnStderr() async throws {
        let result = try await WorkerProcess.runWithoutBlocking(
            ["rooms", "members", "!a:b"], environment: ["LEAVE_WORKER_DATABASE_URL": "postgresql://127.0.0.1:1/x"])
        #expect(result.status != 0)
        let message = result.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(message.contains("127.0.0.1") && message.contains("port 1"), "\(message)")
        #expect(!message.contains("\n") && !message.contains("\t"), "\(message)")
    }

    @Test func startupRefusesASigningKeyFileOthersCanReachAndStartsWithAPrivateOne() async throws {
        let fixture = try await ResidentFixture()
        let path = fixture.keyFile.path
        for mode in [0o644, 0o604, 0o620] {
            try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path)
            let refused = try await WorkerProcess.runWithoutBlocking(["serve"], environment: fixture.environment)
            #expect(refused.status != 0, "mode \(String(mode, radix: 8)) was accepted")
            let message = refused.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(!message.contains("\n"), "not one line: \(message)")
            #expect(message.contains("LEAVE_WORKER_SIGNING_KEY"), "\(message)")
            #expect(message.contains("chmod 600 \(path)"), "\(message)")
            #expect(message.contains("mode 0\(String(mode, radix: 8))"), "\(message)")
        }

        var environment = fixture.environment
        environment["LEAVE_WORKER_SIGNING_KEY"] = FileManager.default.temporaryDirectory.path
        let directory = try await WorkerProcess.runWithoutBlocking(["serve"], environment: environment)
        #expect(directory.status != 0)
        #expect(directory.stderr.contains("LEAVE_WORKER_SIGNING_KEY"))
        #expect(directory.stderr.contains("not a regular file"))

        // 0600, reached through a symbolic link as a Kubernetes Secret volume mounts it: the worker starts.
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
        let link = FileManager.default.temporaryDirectory.appendingPathComponent("resident-link-\(UUID().uuidString).key")
        try FileManager.default.createSymbolicLink(atPath: link.path, withDestinationPath: path)
        defer { try? FileManager.default.removeItem(at: link) }
        environment["LEAVE_WORKER_SIGNING_KEY"] = link.path
        let worker = try await WorkerProcess(environment: environment)
        defer { worker.stop() }
        let keys = try await Self.get(worker.baseURL + "/_matrix/key/v2/server")
        #expect(keys.status == 200)
        #expect(keys.body.contains(fixture.residentKey.publicKeyBase64))
        await fixture.shutdown()
    }

    @Test func readinessFollowsTheDatabaseAndRequestsGet503WhenItIsGone() async throws {
        let fixture = try await ResidentFixture()
        let worker = try await fixture.startWorker()
        defer { worker.stop() }
        let room = try fixture.buildRoom(version: "10", members: [PlannedMember(userID: "@bob:remote.test", membership: .join)])
        try await fixture.importRoom(room)
        #expect(try await Self.get(worker.baseURL + "/ready").status == 200)
        let requester = fixture.requester(worker)
        #expect(try await requester.makeLeave(roomID: room.roomID, userID: "@bob:remote.test").status == 200)

        let metrics = try await Self.get(worker.baseURL + "/metrics").body
        #expect(metrics.contains(#"leave_worker_requests_total{route="make_leave",status="200"} 1"#))
        #expect(metrics.contains("leave_worker_db_pool_size"))
        #expect(metrics.contains("leave_worker_request_duration_seconds_bucket"))

        let name = try #require(fixture.databaseURL.split(separator: "/").last)
        let admin = PostgresPool(configuration: PostgresConfiguration(url: TestDatabase.adminURL, poolSize: 1))
        await fixture.pool.close()
        _ = try await admin.withConnection { try $0.execute(script: "DROP DATABASE \"\(name)\" WITH (FORCE)") }
        await admin.close()

        #expect(try await Self.get(worker.baseURL + "/ready").status == 503)
        #expect(try await Self.get(worker.baseURL + "/health").status == 200)
        let refused = try await requester.makeLeave(roomID: room.roomID, userID: "@bob:remote.test")
        #expect(refused.status == 503)
        #expect(refused.errcode == "M_UNKNOWN")
        #expect(refused.header("Retry-After") != nil)
        for server in fixture.remotes { await server.stop() }
    }

    @Test func aBurstFromANewOriginFetchesItsKeyOnce() async throws {
        let fixture = try await ResidentFixture()
        let worker = try await fixture.startWorker()
        defer { worker.stop() }
        let room = try fixture.buildRoom(version: "10", members: [PlannedMember(userID: "@bob:remote.test", membership: .join)])
        let requester = fixture.requester(worker)
        let before = fixture.remote.keyRequestCount
        let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<200 {
                group.addTask { try await requester.makeLeave(roomID: room.roomID, userID: "@bob:remote.test").status }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        // The room was never imported: every request authenticates, then finds no room.
        #expect(statuses.allSatisfy { $0 == 404 }, "\(Set(statuses))")
        #expect(fixture.remote.keyRequestCount - before == 1)
        await fixture.shutdown()
    }

    @Test func anOriginOverItsRateLimitGets429() async throws {
        let fixture = try await ResidentFixture()
        var environment = fixture.environment
        environment["LEAVE_WORKER_RATE_LIMIT_PER_SECOND"] = "2"
        environment["LEAVE_WORKER_RATE_LIMIT_BURST"] = "3"
        let worker = try await WorkerProcess(environment: environment)
        defer { worker.stop() }
        let requester = fixture.requester(worker)
        var answers: [FederationResponse] = []
        for _ in 0..<8 { answers.append(try await requester.makeLeave(roomID: "!none:resident.test", userID: "@bob:remote.test")) }
        #expect(answers.prefix(3).allSatisfy { $0.status == 404 })
        let limited = answers.filter { $0.status == 429 }
        #expect(limited.count >= 4)
        #expect(limited.allSatisfy { $0.errcode == "M_LIMIT_EXCEEDED" && ($0.json?["retry_after_ms"]?.integerValue ?? 0) > 0 })
        #expect(limited.first?.header("Retry-After") != nil)
        await fixture.shutdown()
    }

    @Test func sigtermFinishesInFlightRequestsAndExitsZero() async throws {
        let fixture = try await ResidentFixture()
        let worker = try await fixture.startWorker()
        let room = try fixture.buildRoom(
            version: "10", members: PlannedMember.generate(count: 40, membership: .join, servers: ["remote.test"]))
        try await fixture.importRoom(room)
        // Connections the server closes while quiescing, before a request was written on them, are
        // reported by the client only at its timeout: keep it short.
        let requester = {
            var requester = fixture.requester(worker)
            requester.timeout = .seconds(3)
            return requester
        }()
        _ = try await requester.makeLeave(roomID: room.roomID, userID: room.users(withMembership: "join").last ?? "")
        let load = Task {
            try await withThrowingTaskGroup(of: Int.self) { group in
                for user in room.users(withMembership: "join") where user.hasSuffix("remote.test") {
                    group.addTask { (try? await requester.makeLeave(roomID: room.roomID, userID: user).status) ?? -1 }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
        }
        try await Task.sleep(for: .milliseconds(30))
        let status = worker.stop()
        let statuses = try await load.value
        #expect(status == 0, "exit status \(status): \(worker.outputText())")
        // Each request either completed (200) or found the listener closed (-1): none was cut off with a 5xx.
        #expect(statuses.allSatisfy { $0 == 200 || $0 == -1 }, "\(statuses)")
        #expect(statuses.contains(200))
        let after = try? await requester.makeLeave(roomID: room.roomID, userID: "@bob:remote.test")
        #expect(after == nil, "a new request was answered after shutdown")
        await fixture.shutdown()
    }
}
