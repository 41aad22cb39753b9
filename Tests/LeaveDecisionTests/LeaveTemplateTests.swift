import LeaveDecision
import MatrixCore
import MatrixCrypto
import WorkerApp
import XCTest

/// make_leave's template builder on the vector rooms: a template the remote side signs is
/// accepted by the decision; the refusals answer as the contract says.
final class LeaveTemplateTests: XCTestCase {
    func template(_ room: VectorRoom, userID: String, origin: String = "remote.test", roomID: String? = nil) -> LeaveTemplate {
        // v3+ need no parsed event (a stored leave with our signature may not parse within the PDU limit).
        let deepest = room.events.values.max { $0.pdu.depth < $1.pdu.depth }.map {
            [LeaveTemplate.Extremity(eventID: $0.eventID, depth: $0.pdu.depth, event: room.version.referenceFormat == .pairs ? $0.pdu : nil)]
        } ?? []
        return LeaveTemplate(
            roomID: roomID ?? room.roomID, userID: userID, origin: origin,
            state: RoomState(version: room.version, events: RoomState.keys(for: userID).compactMap { room.finalState[$0] }),
            extremities: deepest)
    }

    /// In every room version: the template, hashed and signed by the user's server, is a leave
    /// the decision stores.
    func testASignedTemplateIsAccepted() throws {
        let servers = try VectorServers()
        let remote = try XCTUnwrap(servers.signingKeys["remote.test"])
        let decision = LeaveDecision(
            serverName: "resident.test", signingKey: servers.signingKeys["resident.test"], maximumSignaturesPerServer: 4)
        let rooms = try VectorRoom.all()
        XCTAssertFalse(rooms.isEmpty)
        for room in rooms.values {
            let answer = try template(room, userID: "@carol:remote.test").build(now: 1_700_000_000_000, serverName: "resident.test", eventIDNumber: 7)
            XCTAssertEqual(answer["room_version"], .string(room.version.id))
            var event = try XCTUnwrap(answer["event"]?.objectValue)
            XCTAssertEqual(event["origin_server_ts"], .integer(1_700_000_000_000))
            XCTAssertEqual(event["event_id"], room.version.eventIDFormat == .explicit ? .string("$7:resident.test") : nil)
            event["hashes"] = ["sha256": .string(Base64.encodeUnpadded(try EventHashing.contentHash(of: event, version: room.version)))]
            let bytes = try EventHashing.redactedSigningBytes(of: event, version: room.version)
            event = JSONSigning.signEvent(event, signingBytes: bytes, entity: "remote.test", key: remote)
            if room.version.eventIDFormat == .explicit {   // the event ID's server signs too in v1–v2
                event = JSONSigning.signEvent(event, signingBytes: bytes, entity: "resident.test", key: try XCTUnwrap(servers.signingKeys["resident.test"]))
            }
            let eventID = try EventHashing.eventID(of: event, version: room.version)
            let candidate = try LeaveCandidate.parse(event, roomID: room.roomID, eventID: eventID, origin: "remote.test", version: room.version)
            let snapshot = room.snapshot(for: event)
            guard case .store(_, let prior) = decision.decide(candidate, snapshot: snapshot, keys: servers.publicKeys) else {
                return XCTFail("v\(room.version.id): \(decision.decide(candidate, snapshot: snapshot, keys: servers.publicKeys))")
            }
            XCTAssertEqual(prior, PriorMembership(value: Membership.invite,
                                                  eventID: snapshot.state.events[.member("@carol:remote.test")]?.eventID), "v\(room.version.id)")
        }
    }

    func testUserNotOnOrigin() throws {
        let room = try XCTUnwrap(VectorRoom.all()["10"])
        XCTAssertThrowsError(try template(room, userID: "@carol:remote.test", origin: "evil.test").build(now: 1, serverName: "resident.test", eventIDNumber: 1)) {
            let refusal = $0 as? LeaveRefusal
            XCTAssertEqual(refusal, .userNotOnOrigin(user: "@carol:remote.test", origin: "evil.test"))
            XCTAssertEqual(refusal.map(MatrixError.init)?.status, 403)
            XCTAssertEqual(refusal.map(MatrixError.init)?.errcode, "M_FORBIDDEN")
        }
    }

    func testCannotLeave() throws {
        let room = try XCTUnwrap(VectorRoom.all()["10"])
        XCTAssertThrowsError(try template(room, userID: "@bob:remote.test").build(now: 1, serverName: "resident.test", eventIDNumber: 1)) {
            let refusal = $0 as? LeaveRefusal
            XCTAssertEqual(refusal, .cannotLeave(.cannotLeave(currentMembership: Membership.leave)))
            XCTAssertEqual(refusal.map(MatrixError.init)?.status, 403)
            XCTAssertEqual(refusal.map(MatrixError.init)?.errcode, "M_FORBIDDEN")
        }
    }

    func testTemplateUnbuildable() throws {
        let room = try XCTUnwrap(VectorRoom.all()["10"])
        XCTAssertThrowsError(try template(room, userID: "@carol:remote.test", roomID: "no-room").build(now: 1, serverName: "resident.test", eventIDNumber: 1)) {
            let refusal = $0 as? LeaveRefusal
            guard case .templateUnbuildable? = refusal else { return XCTFail("\(String(describing: refusal))") }
            XCTAssertEqual(refusal.map(MatrixError.init)?.status, 400)
            XCTAssertEqual(refusal.map(MatrixError.init)?.errcode, "M_BAD_JSON")
        }
    }
}
