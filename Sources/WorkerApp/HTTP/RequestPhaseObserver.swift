import NIOCore
import NIOHTTP1

/// Sits right after the HTTP/1 decoder and tells the connection's ``ConnectionGuard`` where each
/// request stands (head read, end read, response written). A request that is not keep-alive
/// (`Connection: close`, HTTP/1.0) has its connection closed once its answer is written, rather
/// than half-closed and left for the client to close. A `CONNECT` request is answered here:
/// the decoder would treat the connection as a tunnel from then on and the encoder would strip the
/// body from any answer, so it gets a complete 405 `M_UNRECOGNIZED` written raw, and the
/// connection is closed. So does a request the decoder cannot read (a malformed request line or
/// header, a head past the decoder's limit, `Content-Length` beside chunked): 400
/// `M_UNRECOGNIZED` with a Matrix error body, where the HTTP stack would answer an empty 400 —
/// unless it follows pipelined requests still being answered: their answers go out in order and
/// the connection closes after them.
final class RequestPhaseObserver: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private let connectionGuard: ConnectionGuard
    /// Set once a CONNECT or an unreadable request was met: nothing more of this connection is passed on.
    private var isClosing = false
    /// Set when an unreadable request followed requests still being answered: the connection
    /// closes once their answers are written (in order), without an answer to it.
    private var closesAfterAnswers = false
    /// For each request read and not yet answered, in order: whether the connection stays open after it.
    private var keepAlive: [Bool] = []

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
        case .head(let head):
            keepAlive.append(head.isKeepAlive)
            connectionGuard.requestHeadArrived()
        case .body:
            break
        case .end:
            connectionGuard.requestEnded()
        }
        context.fireChannelRead(data)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard error is HTTPParserError else { return context.fireErrorCaught(error) }
        guard !isClosing else { return }
        isClosing = true
        // A raw answer now would go out before those of the requests before it.
        guard keepAlive.isEmpty else {
            closesAfterAnswers = true
            return
        }
        RequestMetrics.record(route: "unknown", status: 400)
        connectionGuard.answerAndClose(Self.malformedAnswer)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard case .end = unwrapOutboundIn(data) else { return context.write(data, promise: promise) }
        connectionGuard.responseEnded()
        let staysOpen = keepAlive.isEmpty || keepAlive.removeFirst()
        guard !staysOpen || (closesAfterAnswers && keepAlive.isEmpty) else { return context.write(data, promise: promise) }
        let written = promise ?? context.eventLoop.makePromise()
        context.write(data, promise: written)
        written.futureResult.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }

    /// The answer to a `CONNECT`: this server is no proxy.
    static let connectAnswer = closingAnswer(
        status: "405 Method Not Allowed", extraHeader: "Allow: GET, PUT\r\n",
        body: #"{"errcode":"M_UNRECOGNIZED","error":"Method CONNECT not allowed"}"#)

    /// The answer to a request the HTTP decoder cannot read.
    static let malformedAnswer = closingAnswer(
        status: "400 Bad Request", body: #"{"errcode":"M_UNRECOGNIZED","error":"Malformed HTTP request"}"#)

    /// A complete HTTP/1.1 response with a JSON body that closes the connection.
    private static func closingAnswer(status: String, extraHeader: String = "", body: String) -> [UInt8] {
        Array("""
            HTTP/1.1 \(status)\r
            Content-Type: application/json\r
            Content-Length: \(body.utf8.count)\r
            \(extraHeader)Connection: close\r
            \r
            \(body)
            """.utf8)
    }
}
