import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// The internal listener (`LEAVE_WORKER_INTERNAL_LISTEN`): `/health`, `/ready` and `/metrics` for
/// probes and Prometheus, off the federation port, plus the routes other parts of the worker add
/// through ``Installer``s (each gets the router and the runtime). Not for the internet: it has no
/// authentication of its own, so routes that need it bring it.
public struct InternalRoutes: Sendable {
    /// Adds routes to the internal listener's router.
    public typealias Installer = @Sendable (Router<BasicRequestContext>, WorkerRuntime) -> Void

    public var installers: [Installer]

    public init(installers: [Installer] = []) {
        self.installers = installers
    }

    /// The router: the three operational routes, then every installer's.
    func router(runtime: WorkerRuntime, isReady: @escaping @Sendable () async -> Bool,
                metricsText: @escaping @Sendable () -> [UInt8]) -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.get("/health") { _, _ in FederationResponder.json(200, Array(#"{"status":"ok"}"#.utf8)) }
        router.get("/ready") { _, _ in
            await isReady()
                ? FederationResponder.json(200, Array(#"{"status":"ready"}"#.utf8))
                : FederationResponder.errorResponse(.unavailable("Not ready"))
        }
        router.get("/metrics") { _, _ in
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: metricsText())))
        }
        for install in installers { install(router, runtime) }
        return router
    }

    /// The listener as a service of the worker's service group, with the federation listener's
    /// connection bounds (`limits`; a connection count of its own).
    func application(address: (host: String, port: Int), limits: HTTPLimits, runtime: WorkerRuntime,
                     isReady: @escaping @Sendable () async -> Bool,
                     metricsText: @escaping @Sendable () -> [UInt8]) -> some Service {
        let logger = runtime.logger
        return Application(
            router: router(runtime: runtime, isReady: isReady, metricsText: metricsText),
            server: BoundedHTTP1Channel.builder(limits: limits),
            configuration: ApplicationConfiguration(address: .hostname(address.host, port: address.port)),
            onServerRunning: { channel in
                let bound = channel.localAddress?.port ?? address.port
                logger.info("leave-worker internal listener", metadata: ["address": "\(address.host):\(bound)"])
            },
            logger: logger)
    }
}
