import Foundation

/// The environment a test runs `leave-worker` commands with.
public enum WorkerEnvironment {
    /// The variables every command needs — server name, key file, database, the repository's `sql/`,
    /// where the simulated servers listen (`serverName=base URL` each) — with quiet logs and a small pool.
    public static func make(serverName: String, keyFile: URL, databaseURL: String, overrides: [(server: String, baseURL: String)])
        -> [String: String]
    {
        [
            "LEAVE_WORKER_SERVER_NAME": serverName,
            "LEAVE_WORKER_SIGNING_KEY": keyFile.path,
            "LEAVE_WORKER_DATABASE_URL": databaseURL,
            "LEAVE_WORKER_SQL_DIR": WorkerProcess.sqlDirectory,
            "LEAVE_WORKER_FEDERATION_OVERRIDES": overrides.map { "\($0.server)=\($0.baseURL)" }.joined(separator: ","),
            "LEAVE_WORKER_LOG_LEVEL": "warning",
            "LEAVE_WORKER_DB_POOL_SIZE": "4",
        ]
    }
}
