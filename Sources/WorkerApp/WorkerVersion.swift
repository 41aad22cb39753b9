/// The version reported by `/_matrix/federation/v1/version` and `--version`.
public enum WorkerVersion {
    public static let current = "0.1.0"
}
