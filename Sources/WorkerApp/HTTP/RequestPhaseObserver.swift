import NIOCore
import NIOHTTP1

/// Sits right after the HTTP/1 decoder and tells the connection's ``ConnectionGuard`` where each
/// request stands (head read, end read, response written). A `CONNECT` request is answered here:
/// the decoder would treat the connection as a tunnel from then on and the encoder would strip the
/// body from any answer, so it gets a complete 405 `M_UNRECOGNIZED` written raw, and the
/// connection is closed.
final class RequestPhaseObserver: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private let connectionGuard: ConnectionGuard
    /// Set once a CONNECT was answered: nothing more of this connection is passed on.
    private var isClosing = false

    init(connectionGuard: ConnectionGuard) {
        self.connectionGuard = connectionGuard
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !isClosing else { return }
        switch unwrapInboundIn(data) {
        case .head(let head) where head.method == .CONNECT:
            isClosing = true
            RequestMetrics.record(route: "unknown", status: 405)
            connectionGuard.answerAndClose(Self.connectAnswer)
            return
        case .head:
            connectionGuard.requestHeadArrived()
        case .body:
            break
        case .end:
            connectionGuard.requestEnded()
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) { connectionGuard.responseEnded() }
        context.write(data, promise: promise)
    }

    /// The answer to a `CONNECT`: this server is no proxy.
    static let connectAnswer: [UInt8] = {
        let body = #"{"errcode":"M_UNRECOGNIZED","error":"Method CONNECT not allowed"}"#
        return Array("""
            HTTP/1.1 405 Method Not Allowed\r
            Content-Type: application/json\r
            Content-Length: \(body.utf8.count)\r
            Allow: GET, PUT\r
            Connection: close\r
            \r
            \(body)
            """.utf8)
    }()
}
