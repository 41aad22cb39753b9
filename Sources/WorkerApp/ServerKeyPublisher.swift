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
    private let document = Mutex<Document?>(nil)

    public init(
        serverName: String, keys: [SigningKey], oldKeys: [OldVerifyKey], validitySeconds: Int,
        now: @escaping @Sendable () -> Int64 = UnixMilliseconds.now
    ) {
        self.serverName = serverName
        self.keys = keys
        self.oldKeys = oldKeys
        self.validityMilliseconds = Int64(validitySeconds) * 1000
        self.now = now
    }

    /// The current signed document as JSON bytes.
    public func currentDocument() -> [UInt8] {
        let time = now()
        return document.withLock { cached in
            if let cached, cached.validUntil - time > validityMilliseconds / 2 { return cached.bytes }
            let validUntil = time + validityMilliseconds
            // `make` throws only for a timestamp beyond 2^53 − 1, which `now` + a configured period cannot reach.
            let bytes = (try? ServerKeyDocument.make(serverName: serverName, keys: keys, oldKeys: oldKeys, validUntil: validUntil))?
                .compactBytes() ?? []
            cached = Document(bytes: bytes, validUntil: validUntil)
            return bytes
        }
    }
}
