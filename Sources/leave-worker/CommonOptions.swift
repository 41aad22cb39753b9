import ArgumentParser
import WorkerApp

private typealias V = Settings.Variable

/// The flags every command accepts: one per environment variable (``Settings/Variable``), named
/// and described by that table (`LEAVE_WORKER_DB_POOL_SIZE` → `--db-pool-size`); a flag overrides
/// its variable. Every command accepts them all, and each reads the ones it uses.
struct CommonOptions: ParsableArguments {
    @Option(name: .customLong(V.serverName.flag), help: .init(V.serverName.help, valueName: "value"))
    var serverName: String?

    @Option(name: .customLong(V.signingKey.flag), help: .init(V.signingKey.help, valueName: "value"))
    var signingKey: String?

    @Option(name: .customLong(V.databaseURL.flag), help: .init(V.databaseURL.help, valueName: "value"))
    var databaseURL: String?

    @Option(name: .customLong(V.databaseDirectURL.flag), help: .init(V.databaseDirectURL.help, valueName: "value"))
    var databaseDirectURL: String?

    @Option(name: .customLong(V.listen.flag), help: .init(V.listen.help, valueName: "value"))
    var listen: String?

    @Option(name: .customLong(V.internalListen.flag), help: .init(V.internalListen.help, valueName: "value"))
    var internalListen: String?

    @Option(name: .customLong(V.shutdownDrainMilliseconds.flag), help: .init(V.shutdownDrainMilliseconds.help, valueName: "value"))
    var shutdownDrainMilliseconds: String?

    @Option(name: .customLong(V.poolSize.flag), help: .init(V.poolSize.help, valueName: "value"))
    var poolSize: String?

    @Option(name: .customLong(V.federationOverrides.flag), help: .init(V.federationOverrides.help, valueName: "value"))
    var federationOverrides: String?

    @Option(name: .customLong(V.logLevel.flag), help: .init(V.logLevel.help, valueName: "value"))
    var logLevel: String?

    @Option(name: .customLong(V.logFormat.flag), help: .init(V.logFormat.help, valueName: "value"))
    var logFormat: String?

    @Option(name: .customLong(V.sqlDirectory.flag), help: .init(V.sqlDirectory.help, valueName: "value"))
    var sqlDirectory: String?

    @Option(name: .customLong(V.keyValiditySeconds.flag), help: .init(V.keyValiditySeconds.help, valueName: "value"))
    var keyValiditySeconds: String?

    @Option(name: .customLong(V.keyFetchTimeoutSeconds.flag), help: .init(V.keyFetchTimeoutSeconds.help, valueName: "value"))
    var keyFetchTimeoutSeconds: String?

    @Option(name: .customLong(V.oldSigningKeys.flag), help: .init(V.oldSigningKeys.help, valueName: "value"))
    var oldSigningKeys: String?

    @Option(name: .customLong(V.rateLimitPerSecond.flag), help: .init(V.rateLimitPerSecond.help, valueName: "value"))
    var rateLimitPerSecond: String?

    @Option(name: .customLong(V.rateLimitBurst.flag), help: .init(V.rateLimitBurst.help, valueName: "value"))
    var rateLimitBurst: String?

    @Option(name: .customLong(V.rateLimitOrigins.flag), help: .init(V.rateLimitOrigins.help, valueName: "value"))
    var rateLimitOrigins: String?

    @Option(name: .customLong(V.headerTimeoutMilliseconds.flag), help: .init(V.headerTimeoutMilliseconds.help, valueName: "value"))
    var headerTimeoutMilliseconds: String?

    @Option(name: .customLong(V.idleTimeoutMilliseconds.flag), help: .init(V.idleTimeoutMilliseconds.help, valueName: "value"))
    var idleTimeoutMilliseconds: String?

    @Option(name: .customLong(V.bodyTimeoutMilliseconds.flag), help: .init(V.bodyTimeoutMilliseconds.help, valueName: "value"))
    var bodyTimeoutMilliseconds: String?

    @Option(name: .customLong(V.maxConnections.flag), help: .init(V.maxConnections.help, valueName: "value"))
    var maxConnections: String?

    @Option(name: .customLong(V.requestDeadlineMilliseconds.flag), help: .init(V.requestDeadlineMilliseconds.help, valueName: "value"))
    var requestDeadlineMilliseconds: String?

    @Option(name: .customLong(V.statementTimeoutMilliseconds.flag), help: .init(V.statementTimeoutMilliseconds.help, valueName: "value"))
    var statementTimeoutMilliseconds: String?

    @Option(name: .customLong(V.lockTimeoutMilliseconds.flag), help: .init(V.lockTimeoutMilliseconds.help, valueName: "value"))
    var lockTimeoutMilliseconds: String?

    @Option(name: .customLong(V.federationAllowedNetworks.flag), help: .init(V.federationAllowedNetworks.help, valueName: "value"))
    var federationAllowedNetworks: String?

    @Option(name: .customLong(V.maxAuthorizationHeaders.flag), help: .init(V.maxAuthorizationHeaders.help, valueName: "value"))
    var maxAuthorizationHeaders: String?

    @Option(name: .customLong(V.maxSignaturesPerServer.flag), help: .init(V.maxSignaturesPerServer.help, valueName: "value"))
    var maxSignaturesPerServer: String?

    @Option(name: .customLong(V.keyFetchConcurrency.flag), help: .init(V.keyFetchConcurrency.help, valueName: "value"))
    var keyFetchConcurrency: String?

    @Option(name: .customLong(V.keyFetchQueueMilliseconds.flag), help: .init(V.keyFetchQueueMilliseconds.help, valueName: "value"))
    var keyFetchQueueMilliseconds: String?

    @Option(name: .customLong(V.keyDocumentMaxBytes.flag), help: .init(V.keyDocumentMaxBytes.help, valueName: "value"))
    var keyDocumentMaxBytes: String?

    @Option(name: .customLong(V.keyDocumentMaxKeys.flag), help: .init(V.keyDocumentMaxKeys.help, valueName: "value"))
    var keyDocumentMaxKeys: String?

    @Option(name: .customLong(V.federationCacheSize.flag), help: .init(V.federationCacheSize.help, valueName: "value"))
    var federationCacheSize: String?

    @Option(name: .customLong(V.sender.flag), help: .init(V.sender.help, valueName: "value"))
    var sender: String?

    @Option(name: .customLong(V.senderLeaseMilliseconds.flag), help: .init(V.senderLeaseMilliseconds.help, valueName: "value"))
    var senderLeaseMilliseconds: String?

    @Option(name: .customLong(V.senderTimeoutMilliseconds.flag), help: .init(V.senderTimeoutMilliseconds.help, valueName: "value"))
    var senderTimeoutMilliseconds: String?

    @Option(name: .customLong(V.senderPollMilliseconds.flag), help: .init(V.senderPollMilliseconds.help, valueName: "value"))
    var senderPollMilliseconds: String?

    @Option(name: .customLong(V.senderBackoffBaseMilliseconds.flag), help: .init(V.senderBackoffBaseMilliseconds.help, valueName: "value"))
    var senderBackoffBaseMilliseconds: String?

    @Option(name: .customLong(V.senderBackoffMaximumMilliseconds.flag), help: .init(V.senderBackoffMaximumMilliseconds.help, valueName: "value"))
    var senderBackoffMaximumMilliseconds: String?

    @Option(name: .customLong(V.senderConcurrency.flag), help: .init(V.senderConcurrency.help, valueName: "value"))
    var senderConcurrency: String?

    @Option(name: .customLong(V.internalTokenFile.flag), help: .init(V.internalTokenFile.help, valueName: "value"))
    var internalTokenFile: String?

    @Option(name: .customLong(V.feedMaxWaitMilliseconds.flag), help: .init(V.feedMaxWaitMilliseconds.help, valueName: "value"))
    var feedMaxWaitMilliseconds: String?

    @Option(name: .customLong(V.passthroughURL.flag), help: .init(V.passthroughURL.help, valueName: "value"))
    var passthroughURL: String?

    @Option(name: .customLong(V.passthroughTimeoutMilliseconds.flag), help: .init(V.passthroughTimeoutMilliseconds.help, valueName: "value"))
    var passthroughTimeoutMilliseconds: String?

    /// The settings: the environment, with the flags given on top.
    func settings() -> Settings {
        let flags: [Settings.Variable: String?] = [
            .serverName: serverName,
            .signingKey: signingKey,
            .databaseURL: databaseURL,
            .databaseDirectURL: databaseDirectURL,
            .listen: listen,
            .internalListen: internalListen,
            .shutdownDrainMilliseconds: shutdownDrainMilliseconds,
            .poolSize: poolSize,
            .federationOverrides: federationOverrides,
            .logLevel: logLevel,
            .logFormat: logFormat,
            .sqlDirectory: sqlDirectory,
            .keyValiditySeconds: keyValiditySeconds,
            .keyFetchTimeoutSeconds: keyFetchTimeoutSeconds,
            .oldSigningKeys: oldSigningKeys,
            .rateLimitPerSecond: rateLimitPerSecond,
            .rateLimitBurst: rateLimitBurst,
            .rateLimitOrigins: rateLimitOrigins,
            .headerTimeoutMilliseconds: headerTimeoutMilliseconds,
            .idleTimeoutMilliseconds: idleTimeoutMilliseconds,
            .bodyTimeoutMilliseconds: bodyTimeoutMilliseconds,
            .maxConnections: maxConnections,
            .requestDeadlineMilliseconds: requestDeadlineMilliseconds,
            .statementTimeoutMilliseconds: statementTimeoutMilliseconds,
            .lockTimeoutMilliseconds: lockTimeoutMilliseconds,
            .federationAllowedNetworks: federationAllowedNetworks,
            .maxAuthorizationHeaders: maxAuthorizationHeaders,
            .maxSignaturesPerServer: maxSignaturesPerServer,
            .keyFetchConcurrency: keyFetchConcurrency,
            .keyFetchQueueMilliseconds: keyFetchQueueMilliseconds,
            .keyDocumentMaxBytes: keyDocumentMaxBytes,
            .keyDocumentMaxKeys: keyDocumentMaxKeys,
            .federationCacheSize: federationCacheSize,
            .sender: sender,
            .senderLeaseMilliseconds: senderLeaseMilliseconds,
            .senderTimeoutMilliseconds: senderTimeoutMilliseconds,
            .senderPollMilliseconds: senderPollMilliseconds,
            .senderBackoffBaseMilliseconds: senderBackoffBaseMilliseconds,
            .senderBackoffMaximumMilliseconds: senderBackoffMaximumMilliseconds,
            .senderConcurrency: senderConcurrency,
            .internalTokenFile: internalTokenFile,
            .feedMaxWaitMilliseconds: feedMaxWaitMilliseconds,
            .passthroughURL: passthroughURL,
            .passthroughTimeoutMilliseconds: passthroughTimeoutMilliseconds,
        ]
        return Settings(overrides: flags.compactMapValues { $0 })
    }
}
