import MatrixCore
import MatrixCrypto

/// The keys a simulated homeserver publishes at `GET /_matrix/key/v2/server`, and for how long.
public struct PublishedKeys: Sendable {
    /// The key this server signs its requests and events with (always published in `verify_keys`).
    public var signing: SigningKey
    /// Further current keys, published in `verify_keys` beside ``signing``.
    public var additional: [SigningKey]
    /// Retired keys (`old_verify_keys`).
    public var old: [OldVerifyKey]
    /// How long after each request the served document stays valid (`valid_until_ts` = now + this).
    public var validity: Duration

    public init(signing: SigningKey, additional: [SigningKey] = [], old: [OldVerifyKey] = [],
                validity: Duration = .seconds(3600)) {
        self.signing = signing
        self.additional = additional
        self.old = old
        self.validity = validity
    }

    /// The self-signed key document as of `now` (ms since the epoch).
    public func document(serverName: String, now: Int64) throws(CanonicalJSONError) -> JSONObject {
        let (seconds, attoseconds) = validity.components
        let validityMS = seconds * 1000 + attoseconds / 1_000_000_000_000_000
        return try ServerKeyDocument.make(serverName: serverName, keys: [signing] + additional, oldKeys: old,
                                          validUntil: now + validityMS)
    }
}
