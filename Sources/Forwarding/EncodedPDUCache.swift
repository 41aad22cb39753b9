import MatrixCore
import Storage
import Synchronization

/// The sender's PDUs as they go into transaction bodies (``FederationTransaction/encode(_:)``), by
/// event: an event due to many destinations — in a room spanning 100 servers, 100 transactions
/// carry it, in stream order, within moments — is checked once (and, unless already in compact
/// form, parsed and written once), not once per destination. By stream position (checked against the event ID): a stored event's PDU never
/// changes.
///
/// Bounded by bytes as well as entries, oldest entry out first: a leave's PDU may be up to 64 KiB
/// (the send_leave body limit), so an entry count alone let members padding their leaves hold
/// 4,096 × 64 KiB = 256 MiB here; a budget of bytes holds the same memory whatever the PDUs' size,
/// and many more of the usual ≈ 800-byte ones — enough for the spread between a 100-server room's
/// destinations, which drain 32 at a time (with 4,096 entries, re-encoding was 7.7 % of the
/// worker's CPU there; 0.3 % with this budget).
final class EncodedPDUCache: Sendable {
    /// One event's encoded PDU, taken out of the cache.
    struct HeldEncoding: Sendable {
        let position: Int64
        let eventID: String
        let pdu: [UInt8]
    }

    private struct Entries {
        /// nil PDUs: none a transaction can carry.
        var byPosition: [Int64: (eventID: String, pdu: [UInt8]?)] = [:]
        /// The positions held, oldest first from `oldest` (the ones before it are gone).
        var order: [Int64] = []
        var oldest = 0
        /// What the entries held count against the byte budget.
        var bytes = 0
    }

    /// What one entry costs beside its PDU's bytes (its key, event ID and the table's slot), for
    /// the budget.
    static let entryOverhead = 128

    private let maximumEntries: Int
    private let maximumBytes: Int
    private let entries = Mutex(Entries())

    /// - Parameters:
    ///   - maximumEntries: at most this many events.
    ///   - maximumBytes: at most this many bytes of PDUs and event IDs, each entry counted with
    ///     ``entryOverhead`` more (one entry is always kept, whatever its size).
    init(maximumEntries: Int = 65_536, maximumBytes: Int = 32 << 20) {
        self.maximumEntries = max(1, maximumEntries)
        self.maximumBytes = max(0, maximumBytes)
    }

    /// `event`'s PDU as ``FederationTransaction/encode(_:)`` writes it, from the cache when there;
    /// nil when no transaction can carry it — or when `event` came without its PDU and the cache
    /// does not hold it, which ``FederationSender`` rules out first (it fills those PDUs in).
    func encoded(_ event: ForwardedEvent) -> [UInt8]? {
        let position = event.streamPosition
        let known = entries.withLock { $0.byPosition[position] }
        if let known, known.eventID.bytesEqual(event.eventID) { return known.pdu }
        guard let pdu = event.pdu else { return nil }
        let encoded = FederationTransaction.encode(pdu)   // outside the lock
        let cost = Self.cost(eventID: event.eventID, pdu: encoded)
        entries.withLock { entries in
            if let replaced = entries.byPosition.updateValue((event.eventID, encoded), forKey: position) {
                entries.bytes += cost - Self.cost(eventID: replaced.eventID, pdu: replaced.pdu)   // another event, same position
            } else {
                entries.order.append(position)
                entries.bytes += cost
            }
            while entries.order.count - entries.oldest > 1,
                  entries.order.count - entries.oldest > maximumEntries || entries.bytes > maximumBytes {
                let evicted = entries.order[entries.oldest]
                entries.oldest += 1
                if let gone = entries.byPosition.removeValue(forKey: evicted) {
                    entries.bytes -= Self.cost(eventID: gone.eventID, pdu: gone.pdu)
                }
            }
            if entries.oldest > 1_024, entries.oldest * 2 > entries.order.count {
                entries.order.removeFirst(entries.oldest)
                entries.oldest = 0
            }
        }
        return encoded
    }

    /// The encoded PDUs the cache holds, a transaction can carry, at the first `limit` stream
    /// positions in `position + 1 ... position + span`, in stream order: what a claim after
    /// `position` may leave out (the caller keeps these bytes, so the cache may let them go meanwhile).
    func heldEncodings(after position: Int64, within span: Int, limit: Int) -> [HeldEncoding] {
        var held: [HeldEncoding] = []
        entries.withLock { entries in
            var candidate = position
            for _ in 0..<max(0, span) {
                guard held.count < limit, candidate < .max else { return }
                candidate += 1
                if let entry = entries.byPosition[candidate], let pdu = entry.pdu {
                    held.append(HeldEncoding(position: candidate, eventID: entry.eventID, pdu: pdu))
                }
            }
        }
        return held
    }

    /// How many events and bytes are held (for tests).
    var held: (entries: Int, bytes: Int) {
        entries.withLock { ($0.byPosition.count, $0.bytes) }
    }

    private static func cost(eventID: String, pdu: [UInt8]?) -> Int {
        entryOverhead + eventID.utf8.count + (pdu?.count ?? 0)
    }
}
