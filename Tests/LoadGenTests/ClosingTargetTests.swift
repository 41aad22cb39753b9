@testable import LoadGen
import MatrixCore
import MatrixCrypto
import NIOCore
import NIOHTTP1
import NIOPosix
import RemoteHomeserver
import XCTest

/// A target that answers every request with `Connection: close` and closes: a pair's send_leave,
/// whose make_leave answer closed the connection, goes out on the replacement connection, and the
/// pair is accepted (as it is through AsyncHTTPClient, which opens a new connection too).
final class ClosingTargetTests: XCTestCase {
    func testAPairWhoseMakeLeaveAnswerClosesTheConnectionSendsOnTheNextOne() async throws {
        let signer = EventSigner(serverName: "remote1.test", key: try SigningKey.generate(version: "r1"))
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(ClosingTarget())
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let port = try XCTUnwrap(server.localAddress?.port)
        let userIDs = ["@a:remote1.test", "@b:remote1.test"]
        let statistics = try await EncodedPairs.run(userIDs: userIDs, roomID: ClosingTarget.roomID, port: port, signer: signer)
        try await server.close()

        XCTAssertEqual(statistics.failures, [:])
        XCTAssertEqual(statistics.accepted.map(\.userID), userIDs)
        XCTAssertEqual(statistics.latencies[.pair]?.totalCount, 2)
    }
}

/// Answers a make_leave with a version-10 template of the member named in its path, a send_leave
/// with `{}`; each with `Connection: close`, then closes.
private final class ClosingTarget: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    static let roomID = "!room:resident.test"
    private var uri = ""

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): uri = head.uri
        case .body: break
        case .end:
            let body: [UInt8]
            if uri.hasPrefix("/_matrix/federation/v1/make_leave/") {
                let userID = uri.contains("%40a%3A") ? "@a:remote1.test" : "@b:remote1.test"
                let template: JSONValue = [
                    "room_version": "10",
                    "event": [
                        "type": "m.room.member", "state_key": .string(userID), "sender": .string(userID),
                        "room_id": .string(Self.roomID), "content": ["membership": "leave"], "origin_server_ts": 1,
                        "depth": 3, "prev_events": [], "auth_events": [],
                    ],
                ]
                body = template.compactBytes()
            } else {
                body = Array("{}".utf8)
            }
            let headers: HTTPHeaders = ["Content-Length": String(body.count), "Connection": "close"]
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))),
                          promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: body)))), promise: nil)
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
        }
    }
}
