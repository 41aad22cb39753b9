import MatrixCore
import Logging
import Metrics
import NIOCore

/// First handler of every HTTP connection (raw bytes, before the HTTP decoder): admits the
/// connection within the process's connection limit (beyond it: 503 `M_UNKNOWN` with
/// `Retry-After`, then the close) and closes it when a phase outlasts its bound
/// — no byte while idle, a request head not complete in time, a request body not complete in time,
/// no answer ended in time (a client that does not read its answers).
/// ``RequestPhaseObserver`` (after the decoder) reports where each request stands. Both run on the
/// connection's event loop; nothing here blocks.
///
/// It also bounds pipelining: the decoder decodes every request in the bytes it is given, so it is
/// given them one request head at a time (cut after each blank line), and once
/// ``pipelineLimit`` requests await their answers the rest are held, undecoded, and the
/// connection stops reading until answers go out. A connection then holds at most that many
/// decoded requests and one read's bytes, however many requests its client sends in one write.
final class ConnectionGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Requests of one connection decoded ahead of their answers, at most.
    static let pipelineLimit = 16

    private enum Phase {
        /// No request under way: the idle bound runs until a byte arrives.
        case awaitingRequest
        /// Bytes of a request head arrived: the header bound runs until the head is complete.
        case readingHead
        /// The head arrived: the body bound runs until the request's end.
        case readingBody
        /// The whole request is read and being answered: an answer must end within the request
        /// deadline (our work) plus the body bound (the client taking the bytes, as it had that
        /// long to send its own), from the request's end or the previous answer's.
        case responding
    }

    private let limits: HTTPLimits
    private let connections: ConnectionCounter
    private let logger: Logger
    private var phase = Phase.awaitingRequest
    /// Requests read whose response has not ended yet (more than one when a client pipelines).
    private var unanswered = 0
    /// When the current phase's bound runs out and what closing then is called.
    private var bound: (deadline: NIODeadline, reason: String)?
    /// The one timer of this connection and when it fires. Re-arming for a later deadline leaves
    /// it be (it re-schedules itself when it fires early), so a keep-alive connection schedules
    /// about one timer per header bound, not three per request.
    private var timer: (task: Scheduled<Void>, firesAt: NIODeadline)?
    private var context: ChannelHandlerContext?
    private var started = false
    /// Over the connection limit: answered 503 and closing; what it sends is dropped.
    private var refused = false
    /// Bytes read and not yet given to the decoder (while ``pipelineLimit`` requests await answers).
    private var held: ByteBuffer?
    /// A read asked for while bytes were held or the pipeline full: done once answers go out.
    private var readHeld = false
    /// How many bytes of a blank line (CR LF CR LF) end the bytes given to the decoder so far.
    private var blankLineMatched = 0
    /// The client's end of input came while bytes were held: passed on after them.
    private var inputClosedHeld = false

    init(limits: HTTPLimits, connections: ConnectionCounter, logger: Logger) {
        self.limits = limits
        self.connections = connections
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { start(context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        cancelTimer()
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        cancelTimer()
        context.fireChannelInactive()
        // After the decoder's last requests, if any: none is answered now.
        Self.unansweredRequests.decrement(by: Double(unanswered))
        unanswered = 0
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !refused else { return }
        if phase == .awaitingRequest {
            phase = .readingHead
            arm(limits.headerTimeout, reason: "header_timeout")
        }
        let bytes = unwrapInboundIn(data)
        if held == nil { held = bytes } else { held!.writeImmutableBuffer(bytes) }
        passOnHeldBytes(context)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard held != nil, case .inputClosed? = event as? ChannelEvent else {
            return context.fireUserInboundEventTriggered(event)
        }
        inputClosedHeld = true
    }

    func read(context: ChannelHandlerContext) {
        guard held == nil, unanswered < Self.pipelineLimit else {
            readHeld = true
            return
        }
        context.read()
    }

    // MARK: - Reported by RequestPhaseObserver

    /// A request head was decoded.
    func requestHeadArrived() {
        unanswered += 1
        Self.unansweredRequests.increment()
        phase = .readingBody
        arm(limits.bodyTimeout, reason: "body_timeout")
    }

    /// A request's end was decoded. If its response has already ended (a route that answers without
    /// reading the body), the connection is idle from now on; otherwise it is being answered.
    func requestEnded() {
        if unanswered == 0 {
            phase = .awaitingRequest
            arm(limits.idleTimeout, reason: "idle_timeout")
        } else {
            phase = .responding
            armResponseBound()
        }
    }

    /// A response's end was written.
    func responseEnded() {
        if unanswered > 0 { Self.unansweredRequests.decrement() }
        unanswered = max(0, unanswered - 1)
        if phase == .responding {
            if unanswered == 0 {
                phase = .awaitingRequest
                arm(limits.idleTimeout, reason: "idle_timeout")
            } else {
                armResponseBound()
            }
        }
        guard let context else { return }
        if held != nil, passOnHeldBytes(context) { context.fireChannelReadComplete() }
        if inputClosedHeld, held == nil {
            inputClosedHeld = false
            context.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        }
        if readHeld, held == nil, unanswered < Self.pipelineLimit {
            readHeld = false
            context.read()
        }
    }

    /// Writes `response` (a complete HTTP/1.1 message) straight to the socket and closes the
    /// connection: for requests the HTTP stack cannot answer itself (a `CONNECT`).
    func answerAndClose(_ response: [UInt8]) {
        guard let context else { return }
        phase = .responding
        armResponseBound()
        context.writeAndFlush(NIOAny(context.channel.allocator.buffer(bytes: response)))
            .assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }

    // MARK: - Private

    /// Gives the decoder the held bytes, up to one request head at a time, until the pipeline is
    /// full; true if it gave any.
    @discardableResult
    private func passOnHeldBytes(_ context: ChannelHandlerContext) -> Bool {
        var gave = false
        while unanswered < Self.pipelineLimit, let bytes = held {
            let length = lengthThroughBlankLine(bytes)
            let slice = held!.readSlice(length: length)!
            if held!.readableBytes == 0 { held = nil }
            gave = true
            context.fireChannelRead(wrapInboundOut(slice))
        }
        return gave
    }

    /// The length of `bytes`' start through its first blank line (counting one begun in the bytes
    /// before), or all of them: a part in which at most one request head ends.
    private func lengthThroughBlankLine(_ bytes: ByteBuffer) -> Int {
        bytes.withUnsafeReadableBytes { raw in
            for (offset, byte) in raw.enumerated() {
                switch (blankLineMatched, byte) {
                case (0, UInt8(ascii: "\r")), (2, UInt8(ascii: "\r")): blankLineMatched += 1
                case (1, UInt8(ascii: "\n")): blankLineMatched = 2
                case (3, UInt8(ascii: "\n")):
                    blankLineMatched = 0
                    return offset + 1
                default: blankLineMatched = byte == UInt8(ascii: "\r") ? 1 : 0
                }
            }
            return raw.count
        }
    }

    private func start(_ context: ChannelHandlerContext) {
        guard !started else { return }
        started = true
        guard connections.admit(limit: limits.maxConnections) else {
            Self.recordClose("over_limit")
            logger.debug("connection refused: over the connection limit", metadata: ["limit": "\(limits.maxConnections)"])
            refused = true
            answerAndClose(Self.overLimitAnswer)
            return
        }
        let connections = connections
        context.channel.closeFuture.whenComplete { _ in connections.release() }
        arm(limits.idleTimeout, reason: "idle_timeout")
    }

    private func armResponseBound() {
        arm(limits.requestDeadline + limits.bodyTimeout, reason: "response_timeout")
    }

    private func arm(_ limit: Duration, reason: String) {
        let deadline = NIODeadline.now() + .nanoseconds(limit.saturatingNanoseconds)
        bound = (deadline, reason)
        if let timer, timer.firesAt <= deadline { return }
        schedule(at: deadline)
    }

    private func schedule(at deadline: NIODeadline) {
        guard let context else { return }
        timer?.task.cancel()
        let task = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
            timer = nil
            boundElapsed(context)
        }
        timer = (task, deadline)
    }

    /// The timer fired: closes the connection if the current bound ran out, else waits for it.
    private func boundElapsed(_ context: ChannelHandlerContext) {
        guard let bound else { return }
        guard bound.deadline <= .now() else { return schedule(at: bound.deadline) }
        self.bound = nil
        Self.recordClose(bound.reason)
        logger.debug("connection closed", metadata: ["reason": .string(bound.reason)])
        context.close(promise: nil)
    }

    private func cancelTimer() {
        timer?.task.cancel()
        timer = nil
        bound = nil
    }

    /// The answer to a connection over the limit (INTERFACE's overload answer), before its close.
    static let overLimitAnswer = RequestPhaseObserver.closingAnswer(.unavailable("Too many connections; retry"))

    /// Requests read whose answer has not been written yet, over all connections.
    private static let unansweredRequests = Meter(label: "leave_worker_http_requests_unanswered")

    /// Connections the worker closed, by reason (a fixed set of label values).
    private static func recordClose(_ reason: String) {
        Counter(label: "leave_worker_connections_closed_total", dimensions: [("reason", reason)]).increment()
    }
}
