import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import MatrixCore
import RemoteHomeserver
import TestSupport

/// The reference homeserver of record (issue 15), played in the tests: it holds its rooms
/// (`RecordRoom`), pushes their new events to the fleet's internal endpoint, and follows the
/// fleet's feed from its own position, applying each accepted leave to its rooms.
actor HomeserverOfRecord {
    let token: String
    private(set) var rooms: [String: RecordRoom] = [:]
    /// The feed position applied so far (what it resumes from).
    private(set) var position: Int64 = 0
    /// Every feed event received, in order, by event ID (duplicates kept: the feed is at least once).
    private(set) var received: [String] = []

    init(token: String) {
        self.token = token
    }

    func hold(_ room: BuiltRoom) {
        rooms[room.roomID] = RecordRoom(room)
    }

    func update(_ roomID: String, _ change: (inout RecordRoom) throws -> Void) throws {
        guard var room = rooms[roomID] else { return }
        try change(&room)
        rooms[roomID] = room
    }

    func membership(_ roomID: String, _ userID: String) -> String? {
        rooms[roomID]?.members[userID]?.membership
    }

    /// Pushes the room's events made since the last push: `PUT /_leave_worker/v1/rooms/{roomId}/events`.
    func push(_ roomID: String, to internalURL: String) async throws -> (status: Int, body: JSONValue?) {
        guard var room = rooms[roomID] else { return (0, nil) }
        let document = room.takePush()
        rooms[roomID] = room
        return try await Self.request("PUT", internalURL + "/_leave_worker/v1/rooms/\(Self.encode(roomID))/events",
                                      token: token, body: document.compactBytes())
    }

    /// One feed read from `position` (long-polling up to `timeoutMS`); applies what came. Returns the events' IDs.
    @discardableResult
    func follow(_ internalURL: String, timeoutMS: Int) async throws -> [String] {
        let (status, body) = try await Self.request(
            "GET", internalURL + "/_leave_worker/v1/events?from=\(position)&limit=100&timeout_ms=\(timeoutMS)", token: token)
        guard status == 200, let events = body?["events"]?.arrayValue, let next = body?["next_from"]?.integerValue else {
            throw WorkerProcessError(description: "feed read answered \(status): \(String(describing: body))")
        }
        var ids: [String] = []
        for event in events {
            guard let roomID = event["room_id"]?.stringValue, let pdu = event["pdu"]?.objectValue,
                  let eventID = event["event_id"]?.stringValue else { continue }
            try update(roomID) { try $0.apply(feedPDU: pdu) }
            ids.append(eventID)
        }
        received += ids
        position = next
        return ids
    }

    /// A plain HTTP request with `Authorization: Bearer <token>` (nil: none).
    static func request(_ method: String, _ url: String, token: String?, body: [UInt8]? = nil) async throws
        -> (status: Int, body: JSONValue?)
    {
        var request = URLRequest(url: URL(string: url)!)
        request.httpMethod = method
        request.timeoutInterval = 60
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        if let body {
            request.httpBody = Data(body)
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, try? JSONParser.parse([UInt8](data)))
    }

    static func encode(_ segment: String) -> String {
        segment.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? segment
    }
}
