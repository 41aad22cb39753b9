import LeaveDecision
import MatrixCore
import MatrixCrypto
import WorkerApp
import XCTest

/// Every case of leave-cases.json through the real decision — parse, the keys it asks for, the
/// verdict — and the real HTTP mapping: the status and errcode the file recommends, or accepted
/// with the event stored as we serve it (our signature, the same event ID, the redacted copy where
/// the file says so).
final class LeaveCaseTests: XCTestCase {
    /// This worker plays the rooms' resident server.
    static let serverName = "resident.test"

    func testEveryCaseGetsTheRecommendedAnswer() throws {
        let rooms = try VectorRoom.all()
        let servers = try VectorServers()
        let decision = LeaveDecision(
            serverName: Self.serverName, signingKey: servers.signingKeys[Self.serverName], maximumSignaturesPerServer: 4)
        let cases = try VectorLeaveCase.all()
        XCTAssertFalse(cases.isEmpty)
        for leaveCase in cases {
            let room = try XCTUnwrap(rooms[leaveCase.version], leaveCase.label)
            let verdict = Self.decide(leaveCase, room: room, decision: decision, keys: servers.publicKeys)
            let (status, errcode) = leaveCase.recommended
            switch verdict {
            case .refused(let refusal):
                let error = MatrixError(refusal)
                XCTAssertEqual(error.status, status, "\(leaveCase.label): \(refusal)")
                XCTAssertEqual(error.errcode, errcode, "\(leaveCase.label): \(refusal)")
                XCTAssertEqual(leaveCase.expected["accept"], .bool(false), leaveCase.label)
            case .store(let leave, _):
                XCTAssertEqual(status, 200, leaveCase.label)
                XCTAssertEqual(leaveCase.expected["accept"], .bool(true), leaveCase.label)
                try checkStored(leave, leaveCase: leaveCase, room: room, decision: decision)
            case .alreadyStored:
                XCTFail("\(leaveCase.label): nothing is stored yet")
            }
        }
    }

    /// A replay of an accepted leave passes the same checks and writes nothing.
    func testAReplayOfAnAcceptedCaseIsAlreadyStored() throws {
        let rooms = try VectorRoom.all()
        let servers = try VectorServers()
        let decision = LeaveDecision(
            serverName: Self.serverName, signingKey: servers.signingKeys[Self.serverName], maximumSignaturesPerServer: 4)
        let accepted = try VectorLeaveCase.all().filter { $0.expected["accept"] == .bool(true) }
        XCTAssertFalse(accepted.isEmpty)
        for leaveCase in accepted {
            let room = try XCTUnwrap(rooms[leaveCase.version])
            let verdict = Self.decide(leaveCase, room: room, decision: decision, keys: servers.publicKeys, alreadyStored: true)
            guard case .alreadyStored = verdict else { return XCTFail("\(leaveCase.label): \(verdict)") }
        }
    }

    /// The service's sequence without its I/O: parse, snapshot, keys asked for, verdict.
    static func decide(
        _ leaveCase: VectorLeaveCase, room: VectorRoom, decision: LeaveDecision,
        keys: [ExactString: ServerSignatures.Keys], alreadyStored: Bool = false
    ) -> LeaveVerdict {
        do throws(LeaveRefusal) {
            let candidate = try LeaveCandidate.parse(
                leaveCase.body, roomID: leaveCase.pathRoomID, eventID: leaveCase.pathEventID, origin: leaveCase.origin,
                version: room.version)
            let snapshot = room.snapshot(for: leaveCase.body, alreadyStored: alreadyStored)
            let needed = try decision.keysNeeded(candidate, snapshot: snapshot)
            var fetched: [ExactString: ServerSignatures.Keys] = [:]
            for (server, _) in needed { fetched[ExactString(server)] = keys[ExactString(server)] }
            return decision.decide(candidate, snapshot: snapshot, keys: fetched)
        } catch {
            return .refused(error)
        }
    }

    private func checkStored(_ leave: SignedLeave, leaveCase: VectorLeaveCase, room: VectorRoom, decision: LeaveDecision) throws {
        let label = leaveCase.label
        XCTAssertEqual(leave.eventID, leaveCase.pathEventID, label)
        XCTAssertNil(leave.json["unsigned"], label)
        let stored = try PDU(json: leave.json, roomVersion: room.version)
        XCTAssertEqual(try EventHashing.eventID(of: stored.json, version: room.version), leaveCase.pathEventID, label)
        let key = try XCTUnwrap(decision.signingKey)
        let ours = try XCTUnwrap(leave.json["signatures"]?[Self.serverName]?[key.keyID]?.stringValue, label)
        let bytes = try EventHashing.redactedSigningBytes(of: stored.json, version: room.version)
        XCTAssertTrue(JSONSigning.verify(signature: ours, over: bytes, publicKey: key.publicKey), label)
        let sender = try XCTUnwrap(UserID(stored.sender)).server
        XCTAssertEqual(leave.json["signatures"]?[sender], leaveCase.body["signatures"]?[sender], "\(label): the sender's signature kept")
        let redacted = leaveCase.expected["recommended"]?.stringValue?.contains("redacted copy stored") == true
        XCTAssertEqual(EventHashing.hasValidContentHash(stored.json, version: room.version), !redacted, label)
        if redacted {
            XCTAssertEqual(stored.content, ["membership": .string(Membership.leave)], label)
        }
    }
}
