import CSodium

/// An error from the Ed25519 wrapper: a key of the wrong length or a library failure.
public enum Ed25519Error: Error, Equatable {
    case invalidKeyLength(Int)
    case libraryUnavailable
}

/// Makes sure libsodium is initialised exactly once (sodium_init is idempotent and thread-safe).
private let sodiumReady: Bool = sodium_init() >= 0

/// An Ed25519 public key (32 bytes), through libsodium.
public struct Ed25519PublicKey: Sendable, Hashable {
    public let bytes: [UInt8]

    public init(bytes: [UInt8]) throws(Ed25519Error) {
        guard bytes.count == Int(crypto_sign_PUBLICKEYBYTES) else { throw .invalidKeyLength(bytes.count) }
        self.bytes = bytes
    }

    /// Whether `signature` is a valid Ed25519 signature of `message` by this key.
    public func isValidSignature(_ signature: [UInt8], for message: [UInt8]) -> Bool {
        guard sodiumReady, signature.count == Int(crypto_sign_BYTES) else { return false }
        return signature.withUnsafeBufferPointer { sig in
            message.withUnsafeBufferPointer { msg in
                bytes.withUnsafeBufferPointer { key in
                    crypto_sign_verify_detached(sig.baseAddress!, msg.baseAddress, UInt64(msg.count), key.baseAddress!) == 0
                }
            }
        }
    }
}

/// An Ed25519 private key, kept as its 32-byte seed (RFC 8032), through libsodium.
public struct Ed25519PrivateKey: Sendable {
    /// The 32-byte seed this key is derived from.
    public let seed: [UInt8]
    public let publicKey: Ed25519PublicKey
    private let secretKey: [UInt8]  // libsodium's 64-byte expanded form (seed ‖ public key)

    public init(seed: [UInt8]) throws(Ed25519Error) {
        guard sodiumReady else { throw .libraryUnavailable }
        guard seed.count == Int(crypto_sign_SEEDBYTES) else { throw .invalidKeyLength(seed.count) }
        var pk = [UInt8](repeating: 0, count: Int(crypto_sign_PUBLICKEYBYTES))
        var sk = [UInt8](repeating: 0, count: Int(crypto_sign_SECRETKEYBYTES))
        _ = crypto_sign_seed_keypair(&pk, &sk, seed)
        self.seed = seed
        self.secretKey = sk
        self.publicKey = try Ed25519PublicKey(bytes: pk)
    }

    /// A new key from libsodium's random generator.
    public static func generate() throws(Ed25519Error) -> Ed25519PrivateKey {
        guard sodiumReady else { throw .libraryUnavailable }
        var seed = [UInt8](repeating: 0, count: Int(crypto_sign_SEEDBYTES))
        randombytes_buf(&seed, seed.count)
        return try Ed25519PrivateKey(seed: seed)
    }

    /// The 64-byte deterministic signature of `message`.
    public func signature(for message: [UInt8]) -> [UInt8] {
        var signature = [UInt8](repeating: 0, count: Int(crypto_sign_BYTES))
        message.withUnsafeBufferPointer { msg in
            _ = crypto_sign_detached(&signature, nil, msg.baseAddress, UInt64(msg.count), secretKey)
        }
        return signature
    }
}
