import MatrixCore
import MatrixCrypto
import XCTest

/// Every event of every room version in events.json: the PDU parses, and its content hash,
/// redacted form, signing bytes, reference hash, event ID and room ID are the vector's.
final class EventVectorTests: XCTestCase {
    func testEveryVectorPDUParsesWithItsMembers() throws {
        var count = 0
        for room in try VectorRoom.all() {
            for event in room.events {
                let pdu = try PDU(json: event.pdu, roomVersion: room.version)
                let input = try object(event.vector["input"], event.name)
                XCTAssertEqual(pdu.json, event.pdu)
                XCTAssertEqual(pdu.type, input["type"]?.stringValue)
                XCTAssertEqual(pdu.sender, input["sender"]?.stringValue)
                XCTAssertEqual(pdu.stateKey, input["state_key"]?.stringValue)
                XCTAssertEqual(pdu.depth, input["depth"]?.integerValue)
                XCTAssertEqual(pdu.content, input["content"]?.objectValue)
                XCTAssertEqual(pdu.roomID, input["room_id"]?.stringValue)
                XCTAssertEqual(pdu.explicitEventID, room.version.eventIDFormat == .explicit ? event.eventID : nil)
                count += 1
            }
        }
        XCTAssertEqual(count, 6 * 10 + 6 * 12, "events in events.json (v7+ add a knock)")
    }

    func testContentHashes() throws {
        for room in try VectorRoom.all() {
            for event in room.events {
                let input = try object(event.vector["input"], event.name)
                let expected = try string(event.vector["content_hash"], event.name)
                let canonical = try string(event.vector["content_hash_input_canonical"], event.name)
                XCTAssertEqual(
                    try input.removing("unsigned", "signatures", "hashes").canonicalBytes(), Array(canonical.utf8))
                XCTAssertEqual(Base64.encodeUnpadded(try EventHashing.contentHash(of: input)), expected, event.name)
                XCTAssertEqual(
                    Base64.encodeUnpadded(try EventHashing.contentHash(of: event.pdu, version: room.version)), expected)
                XCTAssertTrue(EventHashing.hasValidContentHash(event.pdu, version: room.version), event.name)
                XCTAssertTrue(EventHashing.hasValidContentHash(event.pdu), event.name)
            }
        }
    }

    func testRedactedFormsSigningBytesAndReferenceHashes() throws {
        for room in try VectorRoom.all() {
            for event in room.events {
                let pdu = try object(event.vector["pdu"], event.name)
                let label = "v\(room.version.id) \(event.name)"
                XCTAssertEqual(Redaction.redact(pdu, version: room.version), try object(event.vector["redacted"], label), label)
                let signingBytes = try EventHashing.redactedSigningBytes(of: pdu, version: room.version)
                XCTAssertEqual(
                    signingBytes, Array(try string(event.vector["reference_hash_input_canonical"], label).utf8), label)
                let hash = try EventHashing.referenceHash(of: pdu, version: room.version)
                XCTAssertEqual(hex(hash), try string(event.vector["reference_hash_sha256_hex"], label), label)
                XCTAssertEqual(
                    Base64.encodeUnpaddedURLSafe(hash),
                    try string(event.vector["reference_hash_unpadded_urlsafe_base64"], label))
            }
        }
    }

    func testEventIDsAndRoomIDs() throws {
        for room in try VectorRoom.all() {
            for event in room.events {
                let pdu = try object(event.vector["pdu"], event.name)
                let label = "v\(room.version.id) \(event.name)"
                XCTAssertEqual(try EventHashing.eventID(of: pdu, version: room.version), event.eventID, label)
                XCTAssertEqual(try EventHashing.eventID(of: event.pdu, version: room.version), event.eventID, label)
                let roomID = try string(event.vector["room_id"], label)
                XCTAssertEqual(try EventHashing.roomID(of: pdu, version: room.version), roomID, label)
                XCTAssertEqual(roomID, room.roomID)
            }
        }
    }

    func testV3UsesStandardAndV4UsesURLSafeBase64() throws {
        let rooms = try VectorRoom.all()
        let v3 = try XCTUnwrap(rooms.first { $0.version.id == "3" })
        for event in v3.events {
            let standard = try string(event.vector["reference_hash_unpadded_base64"], event.name)
            XCTAssertEqual(event.eventID, "$" + standard)
        }
        XCTAssertTrue(v3.events.contains { $0.eventID.contains("+") || $0.eventID.contains("/") })
    }

    func testEverySignatureVerifiesOverTheRedactedSigningBytes() throws {
        let keys = try vectorServerKeys()
        var verified = 0
        for room in try VectorRoom.all() {
            for event in room.events {
                let bytes = try EventHashing.redactedSigningBytes(of: event.pdu, version: room.version)
                for server in try object(event.pdu["signatures"], event.name).members {
                    for signature in try object(server.value, server.key).members {
                        let key = try XCTUnwrap(keys[server.key]?[signature.key])
                        let raw = try XCTUnwrap(Base64.decode(try string(signature.value, signature.key)))
                        XCTAssertTrue(key.isValidSignature(raw, for: bytes), "v\(room.version.id) \(event.name)")
                        verified += 1
                    }
                }
            }
        }
        XCTAssertEqual(verified, 132 + 12, "one per event, plus the countersignature of each stored leave")
    }

    /// The leave's ID is the same in the send_leave body (with `unsigned`) and in the stored,
    /// countersigned PDU, and the unsigned block changes neither hash.
    func testSendLeaveBodyAndStoredPDUHaveTheSameID() throws {
        for room in try VectorRoom.all() {
            let leave = try XCTUnwrap(room.events.first { $0.name == "bob_leave" })
            let request = try object(leave.vector["send_leave_request"], "send_leave_request")
            let body = try object(request["body"], "body")
            XCTAssertNotNil(body["unsigned"])
            XCTAssertEqual(try EventHashing.eventID(of: body, version: room.version), leave.eventID)
            XCTAssertTrue(EventHashing.hasValidContentHash(body, version: room.version))
            XCTAssertEqual(try EventHashing.eventID(of: leave.pdu, version: room.version), leave.eventID)
            _ = try PDU(json: body, roomVersion: room.version)
        }
    }

    private func hex(_ bytes: [UInt8]) -> String {
        bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
    }
}
