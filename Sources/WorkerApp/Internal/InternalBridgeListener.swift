import Hummingbird
import Logging
import ServiceLifecycle

/// A minimal internal listener serving only the homeserver bridge's routes on
/// `LEAVE_WORKER_INTERNAL_LISTEN` — a stand-in, in this one file, until part `app`'s internal
/// listener (which also serves /metrics and /ready there) is merged: then its router takes
/// `addHomeserverBridgeRoutes` and this file goes.
enum InternalBridgeListener {
    /// The listener as a service, or nil when `LEAVE_WORKER_INTERNAL_LISTEN` or the bridge is not configured.
    static func service(settings: Settings, bridge: HomeserverBridge?, logger: Logger) throws -> (any Service)? {
        guard let bridge, settings.values[.internalListen] != nil else { return nil }
        let (host, port) = try settings.address(.internalListen, default: "")
        let router = Router()
        addHomeserverBridgeRoutes(to: router, bridge: bridge)
        let application = Application(
            router: router, configuration: ApplicationConfiguration(address: .hostname(host, port: port)),
            onServerRunning: { channel in
                logger.info("leave-worker internal listener", metadata: ["address": "\(host):\(channel.localAddress?.port ?? port)"])
            },
            logger: logger)
        return ClosingFeed(application: application, bridge: bridge)
    }

    /// The listener, which at a graceful shutdown first ends the feed's long-polls (they answer
    /// with what they have) so that in-flight reads do not hold the shutdown for their whole wait.
    private struct ClosingFeed: Service {
        let application: any Service
        let bridge: HomeserverBridge

        func run() async throws {
            try await withGracefulShutdownHandler { try await application.run() } onGracefulShutdown: { bridge.stop() }
        }
    }
}
