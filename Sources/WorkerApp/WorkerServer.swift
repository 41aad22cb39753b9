import Federation
import Forwarding
import Foundation
import Hummingbird
import LeaveService
import Logging
import MatrixCrypto
import NIOCore
import ServiceLifecycle
import Storage

/// `leave-worker serve`: builds the runtime, refuses an unmigrated database, and runs the HTTP
/// server until SIGTERM/SIGINT — then fails readiness for the drain period
/// (`LEAVE_WORKER_SHUTDOWN_DRAIN_MS`), stops accepting connections, lets in-flight requests finish
/// (bounded by the service group's graceful shutdown) and closes the pool. With
/// `LEAVE_WORKER_INTERNAL_LISTEN` set, `/metrics` and `/ready` move to a second listener.
public struct WorkerServer: Sendable {
    public let settings: Settings
    /// Called with the bound port once the server listens (useful with port 0).
    public let onListening: @Sendable (Int) -> Void
    /// Routes other parts of the worker add to the internal listener.
    public let internalRoutes: [InternalRoutes.Installer]

    public init(settings: Settings, internalRoutes: [InternalRoutes.Installer] = [],
                onListening: @escaping @Sendable (Int) -> Void = { _ in }) {
        self.settings = settings
        self.internalRoutes = internalRoutes
        self.onListening = onListening
    }

    public func run() async throws {
        let runtime = try WorkerRuntime(settings: settings, requireSigningKey: true, boundStatements: true)
        do {
            try await serve(runtime)
        } catch {
            await runtime.shutdown()
            throw error
        }
        await runtime.shutdown()
    }

    private func serve(_ runtime: WorkerRuntime) async throws {
        let migrator = try Migrator(directory: try SQLDirectory.resolve(settings))
        let pending = try await migrator.pending(pool: runtime.pool)
        guard pending.isEmpty else {
            throw Settings.Problem(
                description: "the database is not migrated (pending: \(pending.joined(separator: ", "))); run `leave-worker migrate` first")
        }
        let readiness = Readiness()
        let internalAddress = try settings.internalListen
        var dependencies = try Self.dependencies(runtime, readiness: readiness)
        dependencies.servesOperationalRoutes = internalAddress == nil
        // Rooms not held go to the homeserver of record (`LEAVE_WORKER_PASSTHROUGH_URL`), when set.
        let passthrough = try Passthrough.make(settings: settings, leaves: runtime.leaves, logger: runtime.logger)
        dependencies.passthrough = passthrough
        // The homeserver bridge's internal routes (`LEAVE_WORKER_INTERNAL_TOKEN_FILE`), when set.
        let bridge = try HomeserverBridge.make(settings: settings, runtime: runtime)
        defer { bridge?.stop() }
        let limits = try settings.httpLimits
        let (host, port) = try settings.listen
        let logger = runtime.logger
        let onListening = self.onListening
        let app = Application(
            responder: FederationResponder(dependencies: dependencies),
            server: BoundedHTTP1Channel.builder(limits: limits),
            configuration: ApplicationConfiguration(address: .hostname(host, port: port)),
            onServerRunning: { channel in
                let bound = channel.localAddress?.port ?? port
                logger.info("leave-worker listening", metadata: ["address": "\(host):\(bound)", "server_name": "\(runtime.serverName)"])
                onListening(bound)
            },
            logger: logger)
        // A graceful shutdown stops the services in reverse order: readiness fails and the drain
        // period passes, then the federation listener closes, then the internal one, sending, pruning.
        let pruner = StoragePruner(serverKeys: ServerKeyStore(pool: runtime.pool), logger: logger)
        let sender = try federationSender(runtime)
        var services: [any Service] = [pruner] + (sender.map { [SenderService(sender: $0)] } ?? [])
        if let passthrough { services.append(passthrough) }
        if let internalAddress {
            let installers = internalRoutes + (bridge.map { bridge in [{ router, _ in addHomeserverBridgeRoutes(to: router, bridge: bridge) }] } ?? [])
            // The bridge's requests may outlast a federation request (``HomeserverBridge/longestRequest``).
            var internalLimits = limits
            if let bridge { internalLimits.requestDeadline = max(limits.requestDeadline, bridge.longestRequest) }
            let listener = InternalRoutes(installers: installers).application(
                address: internalAddress, limits: internalLimits, runtime: runtime, isReady: dependencies.isReady,
                metricsText: dependencies.metricsText)
            services.append(bridge.map { HomeserverBridge.ClosingFeed(listener: listener, bridge: $0) } ?? listener)
        }
        // The sender stops claiming as the drain begins: its transaction in flight (≤ its send
        // timeout) ends while the listeners drain, not after them (the grace period covers the
        // longer of the two, not their sum). Leaves accepted meanwhile are due to every sender.
        services += [app, DrainService(readiness: readiness, drain: try settings.shutdownDrain, logger: logger,
                                       onDrain: { sender?.stopClaiming() })]
        try await ServiceGroup(configuration: .init(
            services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)).run()
    }

    /// What the federation responder needs, built from the runtime and the settings.
    static func dependencies(_ runtime: WorkerRuntime, readiness: Readiness) throws -> ResponderDependencies {
        let settings = runtime.settings
        let metrics = WorkerMetrics.shared
        let publisher = try ServerKeyPublisher(
            serverName: runtime.serverName, keys: runtime.signingKeys, oldKeys: runtime.oldSigningKeys,
            validitySeconds: try settings.keyValiditySeconds)
        let authenticator = XMatrixAuthentication(
            serverName: runtime.serverName, keys: runtime.keyFetcher,
            maximumAuthorizations: try settings.maxAuthorizationHeaders)
        let pool = runtime.pool
        return ResponderDependencies(
            serverName: runtime.serverName, serverKeys: publisher,
            authenticate: { method, target, authorization, body throws(MatrixError) in
                try await authenticator.authenticate(method: method, target: target, authorization: authorization, body: body)
            },
            rateLimiter: OriginRateLimiter(ratePerSecond: try settings.rateLimitPerSecond, burst: try settings.rateLimitBurst,
                                           maximumOrigins: try settings.rateLimitOrigins),
            leaves: runtime.leaves,
            isReady: { readiness.isAccepting ? await pool.isHealthy(timeout: .milliseconds(500)) : false },
            metricsText: { metrics.render(pool: pool.statistics) },
            logger: runtime.logger,
            requestDeadline: try settings.httpLimits.requestDeadline)
    }

    /// This process's federation sender (`LEAVE_WORKER_SENDER*`), or nil when switched off.
    private func federationSender(_ runtime: WorkerRuntime) throws -> FederationSender? {
        let configuration = try settings.sender
        guard configuration.isEnabled, let key = runtime.signingKeys.first else { return nil }
        let client = FederationClient(serverName: runtime.serverName, signingKey: key, transport: runtime.transport,
                                      timeout: configuration.requestTimeout)
        return FederationSender(pool: runtime.pool, horizon: runtime.rooms.horizon, client: client, configuration: configuration,
                                logger: runtime.logger)
    }
}

/// The federation sender as a service: a graceful shutdown stops its claiming (the drain's start
/// has, usually), and it returns once the transactions in flight are answered and its turn to
/// stop has come.
private struct SenderService: Service {
    let sender: FederationSender

    func run() async {
        await withGracefulShutdownHandler { await sender.run() } onGracefulShutdown: { sender.stopClaiming() }
        try? await gracefulShutdown()   // stopped by the drain: the services after it still run
    }
}
