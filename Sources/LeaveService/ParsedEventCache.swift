import BoundedCollections
import MatrixCore
import Storage
import Synchronization

/// Stored events, parsed, by event ID. Events never change once stored, so a cached parse is
/// never stale; the cache saves re-parsing the create, power-levels and ACL events that every
/// request of a room reads. Bounded, least recently used out: the events every request reads stay
/// while the once-read ones pass through (and a send_leave's own membership event is not kept at
/// all: parsed for that request only, it saved the cache's insertion and an eviction, ~1 % of a
/// worker's CPU under load; a make_leave keeps it, for the send_leave that follows).
final class ParsedEventCache: Sendable {
    /// By event ID, byte for byte (a `String` key would hand out `$K:x` for `$\u{212A}:x`).
    private let events: Mutex<BoundedLRU<ExactString, AuthEvent>>

    init(capacity: Int = 4096) {
        events = Mutex(BoundedLRU(capacity: capacity))
    }

    /// The parsed form of a stored event. Stored events passed every check when they were stored,
    /// so a failure here means the database was changed behind our back: a malformed row. A parse
    /// is kept for later requests only if `keep` says so: an event read once (a send_leave's own
    /// membership event, which its leave replaces) would only push out the ones every request reads.
    func event(_ record: StoredPDU, version: RoomVersion, keep: (AuthEvent) -> Bool = { _ in true }) throws(StorageError) -> AuthEvent {
        if let cached = events.withLock({ $0.value(for: ExactString(record.eventID)) }), cached.pdu.roomVersion == version {
            return cached
        }
        let parsed: AuthEvent
        do {
            guard case .object(let json) = try JSONParser.parse(record.pdu) else {
                throw StorageError.malformedRow("stored event \(record.eventID) is not a JSON object")
            }
            parsed = AuthEvent(eventID: record.eventID, pdu: try PDU(json: json, roomVersion: version), isRejected: false)
        } catch let error as StorageError {
            throw error
        } catch {
            throw .malformedRow("stored event \(record.eventID) cannot be read: \(error)")
        }
        guard keep(parsed) else { return parsed }
        // The entry it evicts — a parsed event, hundreds of objects — is freed after the lock is
        // released, not while other requests wait for it (1.3 % of a worker's CPU under load).
        _ = events.withLock { $0.set(parsed, for: ExactString(record.eventID)) }
        return parsed
    }
}
