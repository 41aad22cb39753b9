@testable import LoadGen
import MatrixCore
import MatrixCrypto
import RemoteHomeserver
import XCTest

/// Requests encoded in advance are well-formed HTTP/1.1 whose X-Matrix signature verifies for what
/// they carry (a real worker accepting them is LoadGenRunTests' runs).
final class EncodedRequestTests: XCTestCase {
    func testTheEncodedSendLeaveIsFramedAndAuthenticates() async throws {
        let signer = EventSigner(serverName: "remote1.test", key: try SigningKey.generate(version: "r1"))
        let version = try XCTUnwrap(RoomVersion("10"))
        let leave = try signer.hashAndSign([
            "type": "m.room.member", "state_key": "@m:remote1.test", "sender": "@m:remote1.test",
            "room_id": "!r:resident.test", "content": ["membership": "leave"], "origin_server_ts": 1,
            "depth": 3, "prev_events": [], "auth_events": [],
        ], version: version)
        let buffer = try EncodedRequest.sendLeave(roomID: "!r:resident.test", leave: leave, signer: signer,
                                                  destination: "resident.test", authority: "127.0.0.1:8448")
        let bytes = Array(buffer.readableBytesView)
        let separator = try XCTUnwrap(bytes.indices.first { Array(bytes[$0..<min($0 + 4, bytes.count)]) == [13, 10, 13, 10] })
        let lines = String(decoding: bytes[..<separator], as: UTF8.self).components(separatedBy: "\r\n")
        let body = Array(bytes[(separator + 4)...])
        let path = FederationRequester.sendLeavePath(roomID: "!r:resident.test", eventID: leave.eventID, version: .v2)
        XCTAssertEqual(lines.first, "PUT \(path) HTTP/1.1")
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            let parts = line.split(separator: ":", maxSplits: 1)
            headers[String(parts[0])] = String(parts[1].dropFirst())
        }
        XCTAssertEqual(headers["Host"], "127.0.0.1:8448")
        XCTAssertEqual(headers["Content-Type"], "application/json")
        XCTAssertEqual(headers["Content-Length"], String(body.count))
        let content = try JSONParser.parse(body)
        XCTAssertEqual(content, .object(leave.pdu))
        let origin = try await XMatrixRequest.authenticate(
            method: "PUT", uri: path, serverName: "resident.test", content: content,
            authorizationHeaders: [try XCTUnwrap(headers["Authorization"])],
            publicKey: { origin, keyID in origin == "remote1.test" && keyID == signer.key.keyID ? signer.key.publicKey : nil })
        XCTAssertEqual(origin, "remote1.test")
    }

    func testTheEncodedMakeLeaveAuthenticates() async throws {
        let signer = EventSigner(serverName: "remote1.test", key: try SigningKey.generate(version: "r1"))
        let buffer = try EncodedRequest.makeLeave(roomID: "!r:resident.test", userID: "@m:remote1.test", signer: signer,
                                                  destination: "resident.test", authority: "127.0.0.1:8448")
        let text = String(decoding: buffer.readableBytesView, as: UTF8.self)
        XCTAssertTrue(text.hasSuffix("\r\n\r\n"), "a GET without a body ends with its head")
        let lines = Array(text.components(separatedBy: "\r\n").prefix { !$0.isEmpty })
        let path = FederationRequester.makeLeavePath(roomID: "!r:resident.test", userID: "@m:remote1.test")
        XCTAssertEqual(lines.first, "GET \(path) HTTP/1.1")
        XCTAssertEqual(lines.count, 3)
        XCTAssertEqual(lines[1], "Host: 127.0.0.1:8448")
        let authorization = try XCTUnwrap(lines[2].split(separator: ": ", maxSplits: 1).last.map(String.init))
        let origin = try await XMatrixRequest.authenticate(
            method: "GET", uri: path, serverName: "resident.test", content: nil, authorizationHeaders: [authorization],
            publicKey: { origin, keyID in origin == "remote1.test" && keyID == signer.key.keyID ? signer.key.publicKey : nil })
        XCTAssertEqual(origin, "remote1.test")
    }

    func testTargetAuthorities() {
        XCTAssertEqual(EncodedRequest.authority(ofHTTP: "http://127.0.0.1:8448"), "127.0.0.1:8448")
        XCTAssertNil(EncodedRequest.authority(ofHTTP: "https://127.0.0.1:8448"))
        XCTAssertEqual(EncodedRequest.hostAndPort(of: "127.0.0.1:8448")?.port, 8448)
        XCTAssertEqual(EncodedRequest.hostAndPort(of: "localhost")?.port, 80)
        XCTAssertEqual(EncodedRequest.hostAndPort(of: "[::1]:9")?.host, "::1")
        XCTAssertNil(EncodedRequest.hostAndPort(of: "127.0.0.1:0"))
        XCTAssertNil(EncodedRequest.hostAndPort(of: "127.0.0.1:x"))
    }
}
