import COpenSSL
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

/// An Ed25519 private key, kept as its 32-byte seed (RFC 8032), through libsodium — and OpenSSL
/// for long messages (``longMessageBytes``).
public struct Ed25519PrivateKey: Sendable {
    /// From this many bytes on, messages are signed through OpenSSL: Ed25519 hashes the message
    /// twice with SHA-512, and OpenSSL's SHA-512 takes 1.39 ns a byte here against libsodium's 2.10,
    /// while its fixed part costs more (46 µs a signature against 22). Measured (C loops, this
    /// 2-core VM): 20 kB 97–102 µs either way, 40 kB 156–158 µs against 182–186 — a federation
    /// transaction of 50 leaves is ≈ 40 kB, one signed per destination. Ed25519 signatures are
    /// deterministic: both give the same bytes.
    public static let longMessageBytes = 24 * 1024

    /// The 32-byte seed this key is derived from.
    public let seed: [UInt8]
    public let publicKey: Ed25519PublicKey
    private let secretKey: [UInt8]  // libsodium's 64-byte expanded form (seed ‖ public key)
    /// The same key in OpenSSL, for long messages (nil if OpenSSL could not take it: libsodium then signs everything).
    private let longMessageSigner: OpenSSLEd25519Signer?

    public init(seed: [UInt8]) throws(Ed25519Error) {
        guard sodiumReady else { throw .libraryUnavailable }
        guard seed.count == Int(crypto_sign_SEEDBYTES) else { throw .invalidKeyLength(seed.count) }
        var pk = [UInt8](repeating: 0, count: Int(crypto_sign_PUBLICKEYBYTES))
        var sk = [UInt8](repeating: 0, count: Int(crypto_sign_SECRETKEYBYTES))
        _ = crypto_sign_seed_keypair(&pk, &sk, seed)
        self.seed = seed
        self.secretKey = sk
        self.publicKey = try Ed25519PublicKey(bytes: pk)
        self.longMessageSigner = OpenSSLEd25519Signer(seed: seed)
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
        if message.count >= Self.longMessageBytes, let signature = longMessageSigner?.signature(for: message) {
            return signature
        }
        return libsodiumSignature(for: message)
    }

    /// The signature through libsodium, whatever the message's length.
    func libsodiumSignature(for message: [UInt8]) -> [UInt8] {
        var signature = [UInt8](repeating: 0, count: Int(crypto_sign_BYTES))
        message.withUnsafeBufferPointer { msg in
            _ = crypto_sign_detached(&signature, nil, msg.baseAddress, UInt64(msg.count), secretKey)
        }
        return signature
    }

    /// The signature through OpenSSL, whatever the message's length; nil if OpenSSL failed.
    func openSSLSignature(for message: [UInt8]) -> [UInt8]? {
        longMessageSigner?.signature(for: message)
    }
}

/// An Ed25519 private key held by OpenSSL (an `EVP_PKEY` made from the seed once; a signature
/// then costs a digest context and the signing itself).
///
/// `@unchecked Sendable` (an `OpaquePointer` is not `Sendable`): `key` is set once in `init`, never
/// changed, and freed only in `deinit`, when no signature can be running. Signing does not modify
/// an `EVP_PKEY`: each signature works in its own `EVP_MD_CTX` (and the `EVP_PKEY_CTX` it makes),
/// which takes a reference to the key atomically; openssl-threads(7) allows objects to be used
/// by several threads at once as long as none modifies them (internal caches are updated under the
/// object's lock).
private final class OpenSSLEd25519Signer: @unchecked Sendable {
    private let key: OpaquePointer

    init?(seed: [UInt8]) {
        guard let key = seed.withUnsafeBufferPointer({ EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nil, $0.baseAddress, $0.count) })
        else { return nil }
        self.key = key
    }

    deinit {
        EVP_PKEY_free(key)
    }

    func signature(for message: [UInt8]) -> [UInt8]? {
        guard let context = EVP_MD_CTX_new() else { return nil }
        defer { EVP_MD_CTX_free(context) }
        guard EVP_DigestSignInit(context, nil, nil, nil, key) == 1 else { return nil }
        var signature = [UInt8](repeating: 0, count: 64)
        var length = signature.count
        let status = message.withUnsafeBufferPointer { input in
            EVP_DigestSign(context, &signature, &length, input.baseAddress, input.count)
        }
        return status == 1 && length == 64 ? signature : nil
    }
}
