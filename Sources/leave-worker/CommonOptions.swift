import ArgumentParser
import WorkerApp

/// The flags every command accepts; each overrides the environment variable of the same meaning.
struct CommonOptions: ParsableArguments {
    @Option(help: "This homeserver's server name (LEAVE_WORKER_SERVER_NAME).")
    var serverName: String?

    @Option(help: "Path of the signing-key file (LEAVE_WORKER_SIGNING_KEY); refused if group or others can reach it (chmod 600).")
    var signingKey: String?

    @Option(help: "libpq connection URI (LEAVE_WORKER_DATABASE_URL, default postgresql:///leave_worker).")
    var databaseURL: String?

    @Option(help: "Connections per process (LEAVE_WORKER_DB_POOL_SIZE).")
    var dbPoolSize: String?

    @Option(help: "Comma-separated server_name=base_url pairs (LEAVE_WORKER_FEDERATION_OVERRIDES).")
    var federationOverrides: String?

    @Option(help: "trace, debug, info, notice, warning, error or critical (LEAVE_WORKER_LOG_LEVEL).")
    var logLevel: String?

    @Option(help: "Directory of the SQL migrations (LEAVE_WORKER_SQL_DIR; default ./sql or next to the executable).")
    var sqlDir: String?

    func settings(extra: [Settings.Variable: String?] = [:]) -> Settings {
        var overrides: [Settings.Variable: String] = [:]
        let flags: [Settings.Variable: String?] = [
            .serverName: serverName, .signingKey: signingKey, .databaseURL: databaseURL, .poolSize: dbPoolSize,
            .federationOverrides: federationOverrides, .logLevel: logLevel, .sqlDirectory: sqlDir,
        ].merging(extra) { _, new in new }
        for (variable, value) in flags {
            if let value { overrides[variable] = value }
        }
        return Settings(overrides: overrides)
    }
}
