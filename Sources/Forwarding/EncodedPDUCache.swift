import BoundedCollections
import Storage
import Synchronization

/// The sender's PDUs as they go into transaction bodies (``FederationTransaction/encode(_:)``), by
/// event: an event due to many destinations — in a room spanning 100 servers, 100 transactions
/// carry it — is parsed, checked and written once, not once per destination. Keyed by stream
/// position and event ID: a stored event's PDU never changes. Bounded, least recently used out.
final class EncodedPDUCache: Sendable {
    private struct Key: Hashable {
        let position: Int64
        let eventID: String
    }

    /// nil values: PDUs no transaction can carry.
    private let entries: Mutex<BoundedLRU<Key, [UInt8]?>>

    init(capacity: Int = 4_096) {
        entries = Mutex(BoundedLRU(capacity: capacity))
    }

    /// `event`'s PDU as ``FederationTransaction/encode(_:)`` writes it, from the cache when there.
    func encoded(_ event: ForwardedEvent) -> [UInt8]? {
        let key = Key(position: event.streamPosition, eventID: event.eventID)
        if let known = entries.withLock({ $0.value(for: key) }) { return known }
        let encoded = FederationTransaction.encode(event.pdu)   // outside the lock
        entries.withLock { _ = $0.set(encoded, for: key) }
        return encoded
    }
}
