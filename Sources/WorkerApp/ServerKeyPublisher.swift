import Foundation
import MatrixCore
import MatrixCrypto
import Synchronization

/// Serves `GET /_matrix/key/v2/server` from memory: our keys, self-signed, valid for a configured
/// period. As Synapse does, the document is re-signed with a fresh `valid_until_ts` once less than
/// half of the period remains, so every answer is valid for at least half the period.
public final class ServerKeyPublisher: Sendable {
    private struct Document {
        let bytes: [UInt8]
        let validUntil: Int64
    }

    private let serverName: String
    private let keys: [SigningKey]
    private let oldKeys: [OldVerifyKey]
    private let validityMilliseconds: Int64
    private let now: @Sendable () -> Int64
    private let document: Mutex<Document>

    /// Signs the first document, so that a document that cannot be signed (a number beyond
    /// canonical JSON's 2^53 − 1) stops the start rather than being served empty. An old key that
    /// is one of the current keys (same key ID or same public key) stops it too: Synapse reads
    /// `old_verify_keys` after `verify_keys`, by key ID, so our current key would count as expired
    /// there and every request we sign would be refused.
    public init(
        serverName: String, keys: [SigningKey], oldKeys: [OldVerifyKey], validitySeconds: Int,
        now: @escaping @Sendable () -> Int64 = UnixMilliseconds.now
    ) throws(Settings.Problem) {
        self.serverName = serverName
        self.keys = keys
        self.oldKeys = oldKeys
        let validity = Int64(validitySeconds) * 1000
        self.validityMilliseconds = validity
        self.now = now
        for old in oldKeys {
            if let current = keys.first(where: { $0.keyID.bytesEqual(old.keyID) || $0.publicKey == old.publicKey }) {
                throw Settings.Problem(description: """
                    \(Settings.Variable.oldSigningKeys.rawValue) lists \(old.keyID), which is the current key \(current.keyID) \
                    of \(Settings.Variable.signingKey.rawValue): list a key as old only once it no longer signs
                    """)
            }
        }
        do {
            document = Mutex(try Self.sign(serverName: serverName, keys: keys, oldKeys: oldKeys,
                                           validUntil: now() + validity))
        } catch {
            throw Settings.Problem(description: "the key document cannot be signed: \(error)")
        }
    }

    /// The current signed document as JSON bytes.
    public func currentDocument() -> [UInt8] {
        let time = now()
        return document.withLock { cached in
            guard cached.validUntil - time <= validityMilliseconds / 2 else { return cached.bytes }
            // Only `valid_until_ts` differs from the document signed at start, and `now` plus a
            // configured period (at most 7 days) stays far below 2^53 − 1; were it not, the last
            // document would be served again, never an empty one.
            if let renewed = try? Self.sign(serverName: serverName, keys: keys, oldKeys: oldKeys,
                                            validUntil: time + validityMilliseconds) {
                cached = renewed
            }
            return cached.bytes
        }
    }

    private static func sign(serverName: String, keys: [SigningKey], oldKeys: [OldVerifyKey],
                             validUntil: Int64) throws(CanonicalJSONError) -> Document {
        let json = try ServerKeyDocument.make(serverName: serverName, keys: keys, oldKeys: oldKeys, validUntil: validUntil)
        return Document(bytes: json.compactBytes(), validUntil: validUntil)
    }
}
