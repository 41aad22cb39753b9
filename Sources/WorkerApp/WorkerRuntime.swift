import Federation
import Foundation
import LeaveService
import Logging
import MatrixCrypto
import Postgres
import Storage

/// The composition root: builds, from the settings, everything a worker or an operator command
/// needs — the Postgres pool, the stores, the federation transport and key fetcher, the leave
/// service — and shuts it all down again.
public final class WorkerRuntime: Sendable {
    public let settings: Settings
    public let serverName: String
    public let signingKeys: [SigningKey]
    /// Our retired keys (`LEAVE_WORKER_OLD_SIGNING_KEYS`): published, and trusted for the events we signed with them.
    public let oldSigningKeys: [OldVerifyKey]
    public let pool: PostgresPool
    public let rooms: RoomStore
    public let keyFetcher: KeyFetcher
    public let transport: FederationTransport
    public let leaves: LeaveService
    public let logger: Logger

    /// - Parameters:
    ///   - requireSigningKey: `serve` needs our key; `rooms import` uses it when present
    ///     (to check events we signed, with the old keys) and fetches nothing for our own server.
    ///   - boundStatements: `serve` runs every connection with the statement and lock timeouts;
    ///     an operator's import of a large room is not cut short by them.
    public init(settings: Settings, requireSigningKey: Bool, boundStatements: Bool = false) throws {
        self.settings = settings
        serverName = try settings.serverName
        WorkerLogging.bootstrap(format: try settings.logFormat)
        // Before anything creates a metric (the key fetcher's cache counters): a metric made
        // before the bootstrap would stay a no-op and never appear on /metrics.
        WorkerMetrics.bootstrap()
        var logger = Logger(label: "leave-worker")
        logger.logLevel = Logger.Level(rawValue: try settings.logLevel) ?? .info
        self.logger = logger
        signingKeys = try settings.signingKeys(required: requireSigningKey) ?? []
        oldSigningKeys = try settings.oldSigningKeys
        let overrides = try settings.federationOverrides
        let timeout = Duration.seconds(try settings.keyFetchTimeoutSeconds)
        var database = settings.databaseConfiguration(poolSize: try settings.poolSize)
        if boundStatements {
            database.statementTimeout = try settings.statementTimeout
            database.lockTimeout = try settings.lockTimeout
        }
        if database.isTransactionPooled {
            logger.notice("database URL is a transaction pooler (a direct URL is set): statement_timeout, lock_timeout and plan_cache_mode come from the role (ALTER ROLE … SET), not from LEAVE_WORKER_DB_*_TIMEOUT_MS")
        }
        pool = PostgresPool(configuration: database)
        rooms = RoomStore(pool: pool)
        let cacheSize = try settings.federationCacheSize
        let connector = OutboundConnector(policy: try settings.federationAllowedNetworks)
        transport = FederationTransport(destinations: FederationDestinations(
            overrides: overrides, timeout: timeout, connector: connector, cacheCapacity: cacheSize, logger: logger))
        var keyConfiguration = KeyFetcher.Configuration()
        keyConfiguration.fetchTimeout = timeout
        keyConfiguration.memoryCapacity = cacheSize
        keyConfiguration.maximumConcurrentFetches = try settings.keyFetchConcurrency
        keyConfiguration.fetchSlotWait = .milliseconds(try settings.keyFetchQueueMilliseconds)
        keyConfiguration.maximumDocumentBytes = try settings.keyDocumentMaxBytes
        keyConfiguration.maximumDocumentKeys = try settings.keyDocumentMaxKeys
        keyFetcher = KeyFetcher(store: ServerKeyStore(pool: pool), transport: transport, configuration: keyConfiguration, logger: logger)
        leaves = LeaveService(
            serverName: serverName, signingKeys: signingKeys, oldSigningKeys: oldSigningKeys, rooms: rooms, keys: keyFetcher,
            maximumSignaturesPerServer: try settings.maxSignaturesPerServer, logger: logger)
    }

    /// Closes the pool and the HTTP clients and writes out the log lines still buffered. Call once.
    public func shutdown() async {
        await pool.close()
        try? await transport.destinations.shutdown()
        LogOutput.standardError.flush()
    }
}
