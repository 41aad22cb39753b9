import Storage

/// The end-of-run check: every leave the target answered 200 must be stored — the event, with
/// membership `leave`, and the member's current membership `leave`.
public enum LostLeaveCheck {
    /// How many event IDs one query asks for.
    static let batchSize = 500

    /// The accepted leaves that are not (fully) stored.
    public static func lostLeaves(_ accepted: [AcceptedLeave], rooms: RoomStore) async throws -> [AcceptedLeave] {
        var lost: [AcceptedLeave] = []
        for (roomID, leaves) in Dictionary(grouping: accepted, by: \.roomID).sorted(by: { $0.key < $1.key }) {
            var storedLeaves: Set<String> = []
            for start in stride(from: 0, to: leaves.count, by: batchSize) {
                let ids = leaves[start..<min(start + batchSize, leaves.count)].map(\.eventID)
                for record in try await rooms.events(roomID: roomID, ids: ids) where record.membership == "leave" {
                    storedLeaves.insert(record.eventID)
                }
            }
            var current: [String: String] = [:]
            for member in try await rooms.members(roomID: roomID) { current[member.userID] = member.membership }
            lost += leaves.filter { !storedLeaves.contains($0.eventID) || current[$0.userID] != "leave" }
        }
        return lost
    }
}
