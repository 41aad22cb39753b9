import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1

/// Hummingbird's HTTP/1 child channel with the worker's bounds around it: a ``ConnectionGuard``
/// in front of the decoder (connection limit, idle, header and body timeouts) and a
/// ``RequestPhaseObserver`` right after it (request phases, `CONNECT`).
struct BoundedHTTP1Channel: ServerChildChannel, HTTPChannelHandler {
    typealias Value = HTTP1Channel.Value

    let responder: HTTPChannelHandler.Responder
    let limits: HTTPLimits
    let connections: ConnectionCounter
    private let inner: HTTP1Channel

    init(responder: @escaping HTTPChannelHandler.Responder, limits: HTTPLimits, connections: ConnectionCounter) {
        self.responder = responder
        self.limits = limits
        self.connections = connections
        inner = HTTP1Channel(responder: responder)
    }

    /// A server builder for `Application(responder:server:…)`; one counter for all its connections.
    static func builder(limits: HTTPLimits) -> HTTPServerBuilder {
        let connections = ConnectionCounter()
        return HTTPServerBuilder { responder in
            BoundedHTTP1Channel(responder: responder, limits: limits, connections: connections)
        }
    }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        inner.setup(channel: channel, logger: logger).flatMapThrowing { value in
            // One read of at most 16 KiB at a time: what ConnectionGuard holds while a pipeline is full.
            try channel.syncOptions?.setOption(.maxMessagesPerRead, value: 1)
            try channel.syncOptions?.setOption(
                .recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 2048, maximum: 16_384))
            let pipeline = channel.pipeline.syncOperations
            let connectionGuard = ConnectionGuard(limits: limits, connections: connections, logger: logger)
            let decoder = try pipeline.context(handlerType: ByteToMessageHandler<HTTPRequestDecoder>.self)
            try pipeline.addHandler(RequestPhaseObserver(connectionGuard: connectionGuard), position: .after(decoder.handler))
            try pipeline.addHandler(connectionGuard, position: .first)
            return value
        }
    }

    func handle(value: Value, logger: Logger) async {
        await inner.handle(value: value, logger: logger)
    }
}
