import Foundation
import MatrixCore

/// The final state of each room of `Tests/Vectors/events.json` (one small room per room version,
/// every event hashed and signed for real): the fixed room the PDU target checks leaves against.
struct VectorRoom: Sendable {
    let version: RoomVersion
    /// The current event at each state key.
    let state: [StateKey: AuthEvent]
    /// Every event of the room, by ID.
    let events: [ExactString: AuthEvent]

    /// The rooms in version order ("1" … "12"), read once.
    static let all: [VectorRoom] = {
        do { return try load() } catch { fatalError("cannot read the vector rooms: \(error)") }
    }()

    private static let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../Tests/Vectors/events.json").standardizedFileURL

    private struct LoadError: Error, CustomStringConvertible {
        let description: String
    }

    private static func load() throws -> [VectorRoom] {
        let bytes = [UInt8](try Data(contentsOf: file))
        let document = try JSONParser.parse(bytes, limits: .init(maxDepth: 64, maxBytes: bytes.count))
        guard let versions = document["versions"]?.objectValue else { throw LoadError(description: "no versions") }
        return try RoomVersion.supported.map { version in
            guard let events = versions[version.id]?["events"]?.arrayValue else {
                throw LoadError(description: "no room for \(version)")
            }
            var state: [StateKey: AuthEvent] = [:]
            var byID: [ExactString: AuthEvent] = [:]
            for event in events {
                guard let json = (event["stored_pdu"] ?? event["pdu"])?.objectValue, let id = event["event_id"]?.stringValue
                else { throw LoadError(description: "event without pdu or event_id in \(version)") }
                let authEvent = AuthEvent(eventID: id, pdu: try PDU(json: json, roomVersion: version))
                byID[ExactString(id)] = authEvent
                if let key = authEvent.pdu.stateKeyPair { state[key] = authEvent }
            }
            return VectorRoom(version: version, state: state, events: byID)
        }
    }
}
