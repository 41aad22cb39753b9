/// Why a signing-key file or a new key could not be used. Messages never contain key material.
public enum SigningKeyError: Error, Equatable, CustomStringConvertible {
    /// The file has no key lines.
    case noKeys
    /// Line `line` (1-based) is not `ed25519 <version> …` as expected.
    case malformedLine(line: Int, reason: String)
    /// A key version outside `[a-zA-Z0-9_]+`.
    case invalidVersion(String)
    /// libsodium failed.
    case library(Ed25519Error)

    public var description: String {
        switch self {
        case .noKeys: return "the key file contains no keys"
        case .malformedLine(let line, let reason): return "key file line \(line): \(reason)"
        case .invalidVersion(let version): return "key version \"\(version)\" must match [a-zA-Z0-9_]+"
        case .library(let error): return "Ed25519 library failure: \(error)"
        }
    }
}
