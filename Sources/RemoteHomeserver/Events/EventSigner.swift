import MatrixCore
import MatrixCrypto

/// One server's identity for creating events: it adds the content hash and its signature over
/// the redacted event, as a server sending a PDU does (spec: events-and-room-versions.md §5).
public struct EventSigner: Sendable {
    public let serverName: String
    public let key: SigningKey

    public init(serverName: String, key: SigningKey) {
        self.serverName = serverName
        self.key = key
    }

    /// `event` with `hashes.sha256` set to its content hash and this server's signature added
    /// (other signatures kept); also its event ID and reference hash.
    public func hashAndSign(_ event: JSONObject, version: RoomVersion) throws(CanonicalJSONError) -> SignedEvent {
        var hashed = event
        let contentHash = try EventHashing.contentHash(of: event, version: version)
        hashed["hashes"] = ["sha256": .string(Base64.encodeUnpadded(contentHash))]
        return try sign(hashed, version: version)
    }

    /// An already hashed `event` with this server's signature added (e.g. a second signature).
    public func sign(_ event: JSONObject, version: RoomVersion) throws(CanonicalJSONError) -> SignedEvent {
        let signedBytes = try EventHashing.redactedSigningBytes(of: event, version: version)
        let signature = Base64.encodeUnpadded(key.privateKey.signature(for: signedBytes))
        let pdu = JSONSigning.adding(signature: signature, entity: serverName, keyID: key.keyID, to: event)
        let eventID: String
        do {
            eventID = try EventHashing.eventID(of: pdu, version: version)
        } catch .nonCanonicalJSON(let error) {
            throw error
        } catch {
            // v1–v2 without `event_id`: the event names no ID of its own yet.
            eventID = ""
        }
        return SignedEvent(pdu: pdu, referenceHash: SHA256.hash(signedBytes), eventID: eventID)
    }
}

/// A hashed and signed PDU with its identity in its room version.
public struct SignedEvent: Sendable {
    /// The PDU as it is sent over federation (v1–v2 with `event_id`, v3+ without).
    public let pdu: JSONObject
    /// SHA-256 of the redacted event without `signatures`/`unsigned` (what signatures cover).
    public let referenceHash: [UInt8]
    /// The event ID: the `event_id` member in v1–v2 (empty if it has none), else `$` + the
    /// reference hash in the version's alphabet.
    public let eventID: String

    init(pdu: JSONObject, referenceHash: [UInt8], eventID: String) {
        self.pdu = pdu
        self.referenceHash = referenceHash
        self.eventID = eventID
    }

    /// How other events cite this one in `prev_events`/`auth_events` in `version`'s format.
    public func reference(in version: RoomVersion) -> JSONValue {
        switch version.referenceFormat {
        case .pairs: [.string(eventID), ["sha256": .string(Base64.encodeUnpadded(referenceHash))]]
        case .ids: .string(eventID)
        }
    }
}
