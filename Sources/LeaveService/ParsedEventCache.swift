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
///
/// Bounded twice: by count, and by the memory the parsed events hold (their estimated heap
/// bytes, ``JSONValue/estimatedHeapBytes``). A member's own event is any JSON within 65,536 bytes,
/// and parsed it can hold 22 times that (`[[0],[0],…]`): by count alone, a member server whose
/// users stored such leaves, then had them read (a make_leave for each, or each cited as an auth
/// event), could make every worker keep 4,096 × 1.4 MB.
final class ParsedEventCache: Sendable {
    private struct Entry {
        let event: AuthEvent
        let heapBytes: Int
    }

    private struct Cached {
        /// By event ID, byte for byte (a `String` key would hand out `$K:x` for `$\u{212A}:x`).
        var events: BoundedLRU<ExactString, Entry>
        var heapBytes = 0
    }

    private let cached: Mutex<Cached>
    /// The most estimated heap bytes the cached events may hold together.
    let heapByteBudget: Int

    init(capacity: Int = 4096, heapByteBudget: Int = 64 << 20) {
        cached = Mutex(Cached(events: BoundedLRU(capacity: capacity)))
        self.heapByteBudget = heapByteBudget
    }

    /// The estimated heap bytes the cached events hold now.
    var heapBytes: Int { cached.withLock { $0.heapBytes } }

    /// The parsed form of a stored event. Stored events passed every check when they were stored,
    /// so a failure here means the database was changed behind our back: a malformed row. A parse
    /// is kept for later requests only if `keep` says so: an event read once (a send_leave's own
    /// membership event, which its leave replaces) would only push out the ones every request reads.
    func event(_ record: StoredPDU, version: RoomVersion, keep: (AuthEvent) -> Bool = { _ in true }) throws(StorageError) -> AuthEvent {
        let key = ExactString(record.eventID)
        if let hit = cached.withLock({ $0.events.value(for: key) }), hit.event.pdu.roomVersion == version {
            return hit.event
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
        let entry = Entry(event: parsed, heapBytes: parsed.pdu.json.estimatedHeapBytes)
        // The entries it evicts — parsed events, hundreds of objects each — are freed after the
        // lock is released, not while other requests wait for it (1.3 % of a worker's CPU under load).
        _ = cached.withLock { cached -> [Entry] in
            var evicted: [Entry] = []
            if let replaced = cached.events.peek(key) {
                cached.heapBytes -= replaced.heapBytes
                evicted.append(replaced)
            }
            if let old = cached.events.set(entry, for: key) {
                cached.heapBytes -= old.value.heapBytes
                evicted.append(old.value)
            }
            cached.heapBytes += entry.heapBytes
            while cached.heapBytes > heapByteBudget, let old = cached.events.removeLeastRecentlyUsed() {
                cached.heapBytes -= old.value.heapBytes
                evicted.append(old.value)
            }
            return evicted
        }
        return parsed
    }
}
