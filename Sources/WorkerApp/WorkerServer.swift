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
/// server until SIGTERM/SIGINT — then stops accepting connections, lets in-flight requests finish
/// (bounded by the service group's graceful shutdown) and closes the pool.
public struct WorkerServer: Sendable {
    public let settings: Settings
    /// Called with the bound port once the server listens (useful with port 0).
    public let onListening: @Sendable (Int) -> Void

    public init(settings: Settings, onListening: @escaping @Sendable (Int) -> Void = { _ in }) {
        self.settings = settings
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
        let metrics = WorkerMetrics.shared
        let oldKeys = try readOldKeys()
        let publisher = ServerKeyPublisher(
            serverName: runtime.serverName, keys: runtime.signingKeys, oldKeys: oldKeys,
            validitySeconds: try settings.keyValiditySeconds)
        let limits = try settings.httpLimits
        let authenticator = XMatrixAuthentication(
            serverName: runtime.serverName, keys: runtime.keyFetcher,
            maximumAuthorizations: try settings.maxAuthorizationHeaders)
        let pool = runtime.pool
        let dependencies = ResponderDependencies(
            serverName: runtime.serverName, serverKeys: publisher,
            authenticate: { method, target, authorization, body throws(MatrixError) in
                try await authenticator.authenticate(method: method, target: target, authorization: authorization, body: body)
            },
            rateLimiter: OriginRateLimiter(ratePerSecond: try settings.rateLimitPerSecond, burst: try settings.rateLimitBurst,
                                           maximumOrigins: try settings.rateLimitOrigins),
            leaves: runtime.leaves,
            isReady: { await pool.isHealthy(timeout: .milliseconds(500)) },
            metricsText: { metrics.render(pool: pool.statistics) },
            logger: runtime.logger,
            requestDeadline: limits.requestDeadline)
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
        // A graceful shutdown stops the services in reverse order: HTTP, then sending, then pruning.
        let pruner = StoragePruner(serverKeys: ServerKeyStore(pool: pool), logger: logger)
        let services: [any Service] = [pruner] + (try federationSender(runtime).map { [SenderService(sender: $0)] } ?? []) + [app]
        try await ServiceGroup(configuration: .init(
            services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)).run()
    }

    /// This process's federation sender (`LEAVE_WORKER_SENDER*`), or nil when switched off.
    private func federationSender(_ runtime: WorkerRuntime) throws -> FederationSender? {
        let configuration = try SenderConfiguration(environment: ProcessInfo.processInfo.environment)
        guard configuration.isEnabled, let key = runtime.signingKeys.first else { return nil }
        let client = FederationClient(serverName: runtime.serverName, signingKey: key, transport: runtime.transport,
                                      timeout: configuration.requestTimeout)
        return FederationSender(pool: runtime.pool, client: client, configuration: configuration, logger: runtime.logger)
    }

    private func readOldKeys() throws -> [OldVerifyKey] {
        guard let path = settings.values[.oldSigningKeys] else { return [] }
        do {
            return try OldVerifyKey.parseKeyFile(try String(contentsOfFile: path, encoding: .utf8))
        } catch {
            throw Settings.Problem(description: "cannot read old signing keys \(path): \(error)")
        }
    }
}

/// The federation sender as a service: a graceful shutdown stops its claiming, and it returns once
/// the transactions in flight are answered.
private struct SenderService: Service {
    let sender: FederationSender

    func run() async {
        await withGracefulShutdownHandler { await sender.run() } onGracefulShutdown: { sender.stopClaiming() }
    }
}
