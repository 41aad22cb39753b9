/// Why a load run could not start or finish.
public enum LoadGenError: Error, Equatable, CustomStringConvertible {
    /// The target is not on loopback and `--allow-remote` was not given.
    case remoteTargetRefused(String)
    case invalidTarget(String)
    case invalidOption(String)
    /// No loopback federation override names a server to play.
    case noRemoteServers
    /// A generated room could not be built or imported.
    case setupFailed(String)
    /// The run ended but its checks failed (``LoadReport/failure``); the report was printed.
    case checkFailed(String)

    public var description: String {
        switch self {
        case .remoteTargetRefused(let target):
            return "refusing target \(target): it is not a loopback address (pass --allow-remote to load-test it)"
        case .invalidTarget(let target): return "invalid --target \(target): expected http://HOST:PORT"
        case .invalidOption(let reason): return reason
        case .noRemoteServers:
            return "no remote servers to play: set LEAVE_WORKER_FEDERATION_OVERRIDES (as for the workers) to "
                + "loopback entries, e.g. remote1.test=http://127.0.0.1:18448"
        case .setupFailed(let reason): return "setup failed: \(reason)"
        case .checkFailed(let reason): return "loadgen: \(reason)"
        }
    }
}
