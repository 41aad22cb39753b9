import MatrixCore

/// One of this server's Ed25519 signing keys, identified as `ed25519:<version>`.
public struct SigningKey: Sendable {
    /// `ed25519:<version>`.
    public let keyID: String
    /// The `<version>` part of the key ID.
    public let version: String
    public let privateKey: Ed25519PrivateKey

    public var publicKey: Ed25519PublicKey { privateKey.publicKey }

    /// The public key in unpadded base64, as published in `verify_keys`.
    public var publicKeyBase64: String { Base64.encodeUnpadded(privateKey.publicKey.bytes) }

    /// A key from its version and 32-byte seed.
    public init(version: String, seed: [UInt8]) throws(SigningKeyError) {
        guard Self.isValidVersion(version) else { throw .invalidVersion(version) }
        do {
            self.init(checkedVersion: version, privateKey: try Ed25519PrivateKey(seed: seed))
        } catch {
            throw .library(error)
        }
    }

    private init(checkedVersion version: String, privateKey: Ed25519PrivateKey) {
        self.version = version
        self.keyID = "\(KeyFile.algorithm):\(version)"
        self.privateKey = privateKey
    }

    /// A new random key.
    public static func generate(version: String) throws(SigningKeyError) -> SigningKey {
        guard isValidVersion(version) else { throw .invalidVersion(version) }
        do {
            return SigningKey(checkedVersion: version, privateKey: try Ed25519PrivateKey.generate())
        } catch {
            throw .library(error)
        }
    }

    /// Reads a Synapse signing-key file: one `ed25519 <version> <unpadded base64 seed>` per line
    /// (blank lines ignored). The first key is the current one. Key IDs must be unique.
    public static func parseKeyFile(_ text: String) throws(SigningKeyError) -> [SigningKey] {
        var keys: [SigningKey] = []
        var seen: Set<String> = []
        for line in KeyFile.lines(text) {
            let keyID = try KeyFile.keyID(of: line, layout: "ed25519 <version> <seed>", fieldCount: 3)
            try KeyFile.checkUnique(keyID, line: line.number, seen: &seen)
            let seed = try KeyFile.keyBytes(line.fields[2], line: line.number, what: "the seed")
            keys.append(try SigningKey(version: String(line.fields[1]), seed: seed))
        }
        guard !keys.isEmpty else { throw .noKeys }
        return keys
    }

    /// This key as a line of a Synapse key file: `ed25519 <version> <unpadded base64 seed>`.
    public var keyFileLine: String {
        "\(KeyFile.algorithm) \(version) \(Base64.encodeUnpadded(privateKey.seed))"
    }

    /// Whether `version` is a valid key version: one or more of `[a-zA-Z0-9_]`.
    public static func isValidVersion(_ version: String) -> Bool {
        !version.isEmpty && version.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"):
                return true
            default:
                return false
            }
        }
    }

    /// Whether `keyID` names an Ed25519 key: `ed25519:` followed by a non-empty version of printable
    /// ASCII (the spec's grammar is `[a-zA-Z0-9_]`; other printable bytes are tolerated). Signatures
    /// under any other algorithm or key ID are ignored. Keeping key IDs ASCII is what lets the key
    /// caches key by `String`: two ASCII strings are `==` exactly when their bytes are equal, whereas
    /// `ed25519:\u{212A}` and `ed25519:K` would be one key.
    public static func isEd25519KeyID(_ keyID: String) -> Bool {
        keyID.utf8.count > 8 && keyID.utf8.starts(with: "ed25519:".utf8)
            && keyID.utf8.dropFirst(8).allSatisfy { (0x21...0x7E).contains($0) }
    }
}
