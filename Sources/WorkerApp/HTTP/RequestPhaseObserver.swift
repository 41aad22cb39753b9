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
/// the connection closes after them. A request whose body the decoder cannot read (a bad chunk
/// size, a transfer coding other than chunked) has its body read fail at once, so the route
/// answers it the same 400 in order, and the connection closes after that answer; if the request
/// was already answered, the connection closes without a second answer.
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
    /// Set from a request's head to its end.
    private var readingRequest = false
    /// Set once the last answer is written and the connection closing: later parts are dropped.
    private var answeredLast = false

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
            readingRequest = true
            connectionGuard.requestHeadArrived()
        case .body:
            break
        case .end:
            readingRequest = false
            connectionGuard.requestEnded()
        }
        context.fireChannelRead(data)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard error is HTTPParserError else { return context.fireErrorCaught(error) }
        guard !isClosing else { return }
        isClosing = true
        if readingRequest {
            // Its answer went out already: nothing more to say.
            guard !keepAlive.isEmpty else { return context.close(promise: nil) }
            // Its body read fails now, and the route answers it in order.
            closesAfterAnswers = true
            return context.fireErrorCaught(error)
        }
        // A raw answer now would go out before those of the requests before it.
        guard keepAlive.isEmpty else {
            closesAfterAnswers = true
            return
        }
        RequestMetrics.record(route: "unknown", status: 400)
        connectionGuard.answerAndClose(Self.malformedAnswer)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        // The HTTP stack's own empty 400, after the answer to a request whose body was unreadable.
        guard !answeredLast else { return promise?.fail(ChannelError.ioOnClosedChannel) ?? () }
        guard case .end = unwrapOutboundIn(data) else { return context.write(data, promise: promise) }
        let staysOpen = keepAlive.isEmpty || keepAlive.removeFirst()
        if !staysOpen || (closesAfterAnswers && keepAlive.isEmpty) {
            answeredLast = true
            let written = promise ?? context.eventLoop.makePromise()
            context.write(data, promise: written)
            written.futureResult.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        } else {
            context.write(data, promise: promise)
        }
        // After the answer's end: the guard may pass on held requests now.
        connectionGuard.responseEnded()
    }

    /// The answer to a `CONNECT`: this server is no proxy.
    static let connectAnswer = closingAnswer(.methodNotAllowed("Method CONNECT not allowed", allowed: "GET, PUT"))

    /// The answer to a request the HTTP decoder cannot read.
    static let malformedAnswer = closingAnswer(.malformedRequest)

    /// `error` as a complete HTTP/1.1 response that closes the connection: the body and the
    /// `Retry-After` and `Allow` headers the responder would send for it.
    static func closingAnswer(_ error: MatrixError) -> [UInt8] {
        let body = error.body.compactBytes()
        var head = "HTTP/1.1 \(error.status) \(HTTPResponseStatus(statusCode: error.status).reasonPhrase)\r\n"
            + "Content-Type: application/json\r\nContent-Length: \(body.count)\r\n"
        if let seconds = error.retryAfterSeconds { head += "Retry-After: \(seconds)\r\n" }
        if let allowed = error.allowedMethods { head += "Allow: \(allowed)\r\n" }
        return Array((head + "Connection: close\r\n\r\n").utf8) + body
    }
}
