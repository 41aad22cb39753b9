import MatrixCore
import MatrixCrypto
import NIOCore
import RemoteHomeserver

/// The requests of a run against an `http://` target, encoded to their last byte: request line,
/// `Host`, the X-Matrix `Authorization` of the leaving member's server and, for a send_leave,
/// `Content-Type`, `Content-Length` and the signed PDU. X-Matrix signatures carry no time, so bytes
/// encoded before the clock starts stay valid: every make_leave, and send-only's send_leaves, are
/// encoded in setup; during the run the generator only writes them (pairs encode their send_leave
/// when the template has been signed).
enum EncodedRequest {
    /// `GET /_matrix/federation/v1/make_leave/{roomId}/{userId}` of `userID`, from `signer`'s server
    /// to `destination` (the resident server), addressed to `authority` (`host:port` of the target).
    static func makeLeave(roomID: String, userID: String, signer: EventSigner, destination: String,
                          authority: String) throws -> ByteBuffer {
        let path = FederationRequester.makeLeavePath(roomID: roomID, userID: userID)
        let authorization = try XMatrixRequest.authorizationHeader(
            method: "GET", uri: path, origin: signer.serverName, destination: destination, content: nil,
            key: signer.key)
        return encode(head: "GET \(path) HTTP/1.1\r\nHost: \(authority)\r\nAuthorization: \(authorization)\r\n\r\n",
                      body: [])
    }

    /// `PUT /_matrix/federation/v2/send_leave/{roomId}/{eventId}` of `leave`, from `signer`'s server
    /// to `destination` (the resident server), addressed to `authority` (`host:port` of the target).
    static func sendLeave(roomID: String, leave: SignedEvent, signer: EventSigner, destination: String,
                          authority: String) throws -> ByteBuffer {
        let path = FederationRequester.sendLeavePath(roomID: roomID, eventID: leave.eventID, version: .v2)
        let content = JSONValue.object(leave.pdu)
        let authorization = try XMatrixRequest.authorizationHeader(
            method: "PUT", uri: path, origin: signer.serverName, destination: destination, content: content,
            key: signer.key)
        let body = content.compactBytes()
        return encode(head: "PUT \(path) HTTP/1.1\r\nHost: \(authority)\r\nAuthorization: \(authorization)\r\n"
                        + "Content-Type: application/json\r\nContent-Length: \(body.count)\r\n\r\n",
                      body: body)
    }

    private static func encode(head: String, body: [UInt8]) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(head.utf8.count + body.count)
        buffer.writeString(head)
        buffer.writeBytes(body)
        return buffer
    }

    /// `host:port` of an `http://` target URL (as sent in `Host`), or nil for any other scheme.
    static func authority(ofHTTP target: String) -> String? {
        guard target.hasPrefix("http://") else { return nil }
        let authority = target.dropFirst(7).prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        return authority.isEmpty ? nil : String(authority)
    }

    /// The host (brackets removed) and port of an authority; port 80 when none is given.
    static func hostAndPort(of authority: String) -> (host: String, port: Int)? {
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return nil }
            let host = String(authority[authority.index(after: authority.startIndex)..<close])
            let rest = authority[authority.index(after: close)...]
            if rest.isEmpty { return (host, 80) }
            guard rest.hasPrefix(":"), let port = Int(rest.dropFirst()), (1...65535).contains(port) else { return nil }
            return (host, port)
        }
        let parts = authority.split(separator: ":", omittingEmptySubsequences: false)
        guard let host = parts.first, !host.isEmpty, parts.count <= 2 else { return nil }
        guard parts.count == 2 else { return (String(host), 80) }
        guard let port = Int(parts[1]), (1...65535).contains(port) else { return nil }
        return (String(host), port)
    }
}
