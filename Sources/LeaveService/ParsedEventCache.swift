import MatrixCore
import Storage
import Synchronization

/// Stored events, parsed, by event ID. Events never change once stored, so a cached parse is
/// never stale; the cache saves re-parsing the create, power-levels and ACL events that every
/// request of a room reads. Bounded: when full it starts over.
final class ParsedEventCache: Sendable {
    private let capacity: Int
    /// By event ID, byte for byte (a `String` key would hand out `$K:x` for `$\u{212A}:x`).
    private let events = Mutex<[ExactString: AuthEvent]>([:])

    init(capacity: Int = 4096) {
        self.capacity = capacity
    }

    /// The parsed form of a stored event. Stored events passed every check when they were stored,
    /// so a failure here means the database was changed behind our back: a malformed row.
    func event(_ record: EventRecord, version: RoomVersion) throws(StorageError) -> AuthEvent {
        if let cached = events.withLock({ $0[ExactString(record.eventID)] }), cached.pdu.roomVersion == version {
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
        events.withLock { cache in
            if cache.count >= capacity { cache.removeAll(keepingCapacity: true) }
            cache[ExactString(record.eventID)] = parsed
        }
        return parsed
    }
}
