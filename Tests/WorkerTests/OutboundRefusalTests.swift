import Foundation
import MatrixCore
import MatrixCrypto
import RemoteHomeserver
import TestSupport
import Testing

/// A request signed as an origin at a loopback, private, link-local or metadata address makes a
/// real worker connect nowhere (a real listener on the loopback port counts connections: none),
/// and the answer names only what failed in the origin's terms — no errno, no TLS library, no
/// address. The room keeps working for a real member afterwards.
@Suite(.serialized)
struct OutboundRefusalTests {
    @Test func restrictedOriginsAreNeverContactedAndAnswerGenerically() async throws {
        let listener = try CountingListener()
        defer { listener.stop() }
        let ipv6Listener = try? CountingListener(host: "::1")
        defer { ipv6Listener?.stop() }
        let fixture = try await ResidentFixture()
        defer { Task { await fixture.shutdown() } }
        let worker = try await fixture.startWorker()
        defer { worker.stop() }
        let room = try fixture.buildRoom(version: "10", members: [PlannedMember(userID: "@bob:remote.test", membership: .join)],
                                         label: "outbound")
        try await fixture.importRoom(room)

        let key = try SigningKey.generate(version: "x1")
        var origins = [listener.serverName, "10.0.0.1", "169.254.169.254", "[::ffff:127.0.0.1]:\(listener.port)", "0.0.0.0:\(listener.port)"]
        origins.append(ipv6Listener?.serverName ?? "[::1]:\(listener.port)")
        for origin in origins {
            let hostile = FederationRequester(origin: origin, key: key, destination: ResidentFixture.serverName, baseURL: worker.baseURL)
            for _ in 0..<2 {   // the second answer comes from memory; both say the same
                let response = try await hostile.makeLeave(roomID: room.roomID, userID: "@x:\(origin)")
                #expect(response.status == 401, "\(origin)")
                #expect(response.errcode == "M_UNAUTHORIZED")
                let text = String(decoding: response.body, as: UTF8.self)
                #expect(response.json?["error"]?.stringValue == "Could not fetch the signing keys of origin \(origin)", "\(text)")
                for leak in ["errno", "refused", "BoringSSL", "handshake", "connect", "loopback", "private", "link-local"] {
                    #expect(!text.lowercased().contains(leak.lowercased()), "\(origin): \(text)")
                }
            }
        }
        try await Task.sleep(for: .milliseconds(300))
        #expect(listener.acceptedConnections == 0)
        #expect(ipv6Listener?.acceptedConnections ?? 0 == 0)

        // The overridden remote server (also on loopback) still works: make_leave for a real member.
        let answer = try await fixture.requester(worker).makeLeave(roomID: room.roomID, userID: "@bob:remote.test")
        #expect(answer.status == 200)
    }

    @Test func theAllowListLetsTheOperatorReachRestrictedNetworksAndFailuresStayGeneric() async throws {
        let listener = try CountingListener()
        defer { listener.stop() }
        let fixture = try await ResidentFixture()
        defer { Task { await fixture.shutdown() } }
        var environment = fixture.environment
        environment["LEAVE_WORKER_FEDERATION_ALLOWED_NETWORKS"] = "10.0.0.0/8,127.0.0.0/8"
        environment["LEAVE_WORKER_KEY_FETCH_TIMEOUT_SECONDS"] = "3"
        let worker = try await WorkerProcess(environment: environment)
        defer { worker.stop() }

        // Allowed, so the worker connects — and the listener, which speaks no TLS, fails the fetch:
        // our side could not decide (503), and the text says only what failed in the origin's terms.
        let origin = listener.serverName
        let hostile = FederationRequester(origin: origin, key: try SigningKey.generate(version: "x1"),
                                          destination: ResidentFixture.serverName, baseURL: worker.baseURL)
        let response = try await hostile.makeLeave(roomID: "!none:resident.test", userID: "@x:\(origin)")
        #expect(response.status == 503)
        #expect(response.header("Retry-After") != nil)
        let text = String(decoding: response.body, as: UTF8.self)
        #expect(response.json?["error"]?.stringValue == "Could not fetch the signing keys of origin \(origin)", "\(text)")
        for leak in ["errno", "refused", "BoringSSL", "handshake", "SSL", "connect", "EOF"] {
            #expect(!text.contains(leak), "\(text)")
        }
        #expect(listener.acceptedConnections >= 1)

        environment["LEAVE_WORKER_FEDERATION_ALLOWED_NETWORKS"] = "10.0.0.0/99"
        let refused = try await WorkerProcess.runWithoutBlocking(["serve"], environment: environment)
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("LEAVE_WORKER_FEDERATION_ALLOWED_NETWORKS"))
    }
}
