import Foundation
import TestSupport
import Testing

/// The pass-through's timeout (`LEAVE_WORKER_PASSTHROUGH_TIMEOUT_MS`) covers the upstream's body,
/// not only its head: an upstream that answers a head and one byte and then says nothing is a 504
/// once the timeout has passed without a byte. (AsyncHTTPClient's deadline ends with the head; the
/// request waited for its own 30 s deadline and was answered 503.)
@Suite(.serialized)
struct PassthroughStallTests {
    @Test func anUpstreamThatStallsMidBodyIsAGatewayTimeout() async throws {
        let fixture = try await ResidentFixture()
        let upstream = try CountingListener(answer: Array("""
            HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{
            """.utf8), holdsConnections: true)
        defer { upstream.stop() }
        let (_, tokenFile) = try HomeserverBridgeTests.makeToken()
        defer { try? FileManager.default.removeItem(at: tokenFile) }
        // startBridgedWorker sets the pass-through timeout to 5 s; the request deadline is 30 s.
        let (worker, _) = try await fixture.startBridgedWorker(tokenFile: tokenFile, passthrough: "http://127.0.0.1:\(upstream.port)")
        defer { worker.stop() }
        let answer = try await fixture.requester(worker).makeLeave(roomID: "!elsewhere:resident.test", userID: HomeserverBridgeTests.bob)
        #expect(upstream.acceptedConnections == 1)
        #expect(answer.status == 504, "\(answer.status) \(answer.errcode ?? "")")
        #expect(answer.errcode == "M_UNKNOWN")
        await fixture.shutdown()
    }
}
