import MatrixCore
import Storage
import Synchronization

/// The sender's PDUs as they go into transaction bodies (``FederationTransaction/encode(_:)``), by
/// event: an event due to many destinations — in a room spanning 100 servers, 100 transactions
/// carry it, in stream order, within moments — is parsed, checked and written once, not once per
/// destination. By stream position (checked against the event ID): a stored event's PDU never
/// changes. At most `capacity` events; the oldest entry goes first.
final class EncodedPDUCache: Sendable {
    private struct Entries {
        /// nil PDUs: none a transaction can carry.
        var byPosition: [Int64: (eventID: String, pdu: [UInt8]?)] = [:]
        /// The positions held, in the order they came (a ring once full).
        var order: [Int64] = []
        var oldest = 0
    }

    private let capacity: Int
    private let entries = Mutex(Entries())

    init(capacity: Int = 4_096) {
        self.capacity = max(1, capacity)
    }

    /// `event`'s PDU as ``FederationTransaction/encode(_:)`` writes it, from the cache when there.
    func encoded(_ event: ForwardedEvent) -> [UInt8]? {
        let position = event.streamPosition
        let known = entries.withLock { $0.byPosition[position] }
        if let known, known.eventID.bytesEqual(event.eventID) { return known.pdu }
        let encoded = FederationTransaction.encode(event.pdu)   // outside the lock
        entries.withLock { entries in
            guard entries.byPosition.updateValue((event.eventID, encoded), forKey: position) == nil else { return }
            if entries.order.count < capacity {
                entries.order.append(position)
            } else {
                entries.byPosition[entries.order[entries.oldest]] = nil
                entries.order[entries.oldest] = position
                entries.oldest = (entries.oldest + 1) % capacity
            }
        }
        return encoded
    }
}
