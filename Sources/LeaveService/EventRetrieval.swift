import MatrixCore
import Storage

extension LeaveService {
    /// `GET /_matrix/federation/v1/event/{eventId}`: the stored PDU (with our signature) in a
    /// transaction-shaped body, for servers with a member, past or present, in the event's room.
    /// Anyone else — and any unknown event — gets ``LeaveServiceError/eventNotFound``, so the
    /// endpoint reveals nothing.
    public func event(eventID: String, origin: String) async throws(LeaveServiceError) -> [UInt8] {
        guard let record = try await storage({ () async throws(StorageError) in try await rooms.event(id: eventID) }),
            try await storage({ () async throws(StorageError) in try await rooms.hasMember(roomID: record.roomID, server: origin) })
        else { throw .eventNotFound }
        var body = Array(#"{"origin":"#.utf8)
        body += JSONValue.string(serverName).compactBytes()
        body += Array(#","origin_server_ts":\#(now()),"pdus":["#.utf8)
        body += record.pdu
        body += Array("]}".utf8)
        return body
    }
}
