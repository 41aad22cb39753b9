import Hummingbird
@testable import LoadGen
import Logging
import MatrixCore
import MatrixCrypto
import NIOCore
import RemoteHomeserver
import XCTest

/// Pairs over the encoded keep-alive path against a real loopback HTTP server scripted per member:
/// a make_leave refused, a send_leave refused and a pair accepted are each recorded as
/// ``LeaveDriver`` records them — failures by endpoint, status and errcode; latencies per endpoint.
final class EncodedDriverTests: XCTestCase {
    private static let roomID = "!room:resident.test"
    private static let refusedMake = "@refused-make:remote1.test"
    private static let refusedSend = "@refused-send:remote1.test"
    private static let accepted = "@accepted:remote1.test"

    func testPairFailuresAreCountedForTheirEndpointWithTheirStatus() async throws {
        let signer = EventSigner(serverName: "remote1.test", key: try SigningKey.generate(version: "r1"))
        let (port, server) = try await Self.startTarget()
        defer { server.cancel() }
        let statistics = try await EncodedPairs.run(userIDs: [Self.refusedMake, Self.refusedSend, Self.accepted],
                                                    roomID: Self.roomID, port: port, signer: signer)

        XCTAssertEqual(statistics.failures, [
            FailureKind(endpoint: .makeLeave, status: 403, detail: "M_FORBIDDEN"): 1,
            FailureKind(endpoint: .sendLeave, status: 400, detail: "M_BAD_JSON"): 1,
        ])
        XCTAssertEqual(statistics.attempted, 3)
        XCTAssertEqual(statistics.accepted.map(\.userID), [Self.accepted])
        XCTAssertEqual(statistics.latencies[.makeLeave]?.totalCount, 3)
        XCTAssertEqual(statistics.latencies[.sendLeave]?.totalCount, 2)
        XCTAssertEqual(statistics.latencies[.pair]?.totalCount, 2)
    }

    /// make_leave: 403 M_FORBIDDEN for `refusedMake`, else a version-10 template; send_leave (v2):
    /// 400 M_BAD_JSON for `refusedSend`'s leave, 200 for any other whose X-Matrix signature is there.
    private static func startTarget() async throws -> (Int, Task<Void, any Error>) {
        let router = Router()
        router.get("/_matrix/federation/v1/make_leave/:roomId/:userId") { request, _ -> Response in
            let path = request.uri.path
            guard !path.contains("refused-make") else { return answer(403, #"{"errcode":"M_FORBIDDEN","error":"no"}"#) }
            let userID = path.contains("refused-send") ? refusedSend : accepted
            let template: JSONValue = [
                "room_version": "10",
                "event": [
                    "type": "m.room.member", "state_key": .string(userID), "sender": .string(userID),
                    "room_id": .string(roomID), "content": ["membership": "leave"], "origin_server_ts": 1,
                    "depth": 3, "prev_events": [], "auth_events": [],
                ],
            ]
            return answer(200, String(decoding: template.compactBytes(), as: UTF8.self))
        }
        router.put("/_matrix/federation/v2/send_leave/:roomId/:eventId") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 1 << 20)
            let leave = try JSONParser.parse(Array(buffer: body))
            guard request.headers[.authorization]?.hasPrefix("X-Matrix ") == true else {
                return answer(401, #"{"errcode":"M_UNAUTHORIZED","error":"no"}"#)
            }
            if leave["state_key"]?.stringValue == refusedSend { return answer(400, #"{"errcode":"M_BAD_JSON","error":"no"}"#) }
            return answer(200, "{}")
        }
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        var logger = Logger(label: "encoded-driver-target")
        logger.logLevel = .critical
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                              onServerRunning: { channel in
                                  continuation.yield(channel.localAddress?.port ?? 0)
                                  continuation.finish()
                              }, logger: logger)
        let task = Task { try await app.runService(gracefulShutdownSignals: []) }
        var iterator = ports.makeAsyncIterator()
        let bound = await iterator.next()
        let port = try XCTUnwrap(bound, "the target did not start")
        return (port, task)
    }

    private static func answer(_ status: Int, _ body: String) -> Response {
        Response(status: .init(code: status), headers: [.contentType: "application/json"],
                 body: ResponseBody(byteBuffer: ByteBuffer(string: body)))
    }
}
