import MatrixCore
import Storage
import Synchronization

/// Room versions by room ID, kept in memory: a room's version never changes, so a cached answer
/// is never stale. Unknown rooms are not cached (a room may be imported at any time).
final class RoomVersionCache: Sendable {
    private let rooms: RoomStore
    /// By room ID, byte for byte (a `String` key would find `!K:x` for `!\u{212A}:x`).
    private let known = Mutex<[ExactString: RoomVersion]>([:])
    private let capacity: Int

    init(rooms: RoomStore, capacity: Int = 100_000) {
        self.rooms = rooms
        self.capacity = capacity
    }

    /// The room's version, or `nil` when this server does not hold the room.
    func version(of roomID: String) async throws(StorageError) -> RoomVersion? {
        if let version = known.withLock({ $0[ExactString(roomID)] }) { return version }
        guard let id = try await rooms.roomVersion(roomID), let version = RoomVersion(id) else { return nil }
        known.withLock { cache in
            if cache.count >= capacity { cache.removeAll(keepingCapacity: true) }
            cache[ExactString(roomID)] = version
        }
        return version
    }
}
